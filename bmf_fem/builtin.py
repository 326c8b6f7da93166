"""The built-in crystal demo that ``bmf run`` runs without a configuration file.

A hexagonal crystal plate is tickled at its centre by a train of pulses, left alone,
then tickled again: the field builds up and wanes, its memory (scope) persists, and the
sites near the centre express.
"""

DEFAULT_DEMO: dict = {
    "mesh": {"kind": "crystal", "shape": "hexagon", "size": 1.0, "h": 0.03},
    "time": {"dt": 0.05, "t_end": 40.0, "scheme": "sbdf2"},
    "field": {"D": 0.005, "decay": 1.0, "feedback": 0.2},
    "memory": {"tau": [30.0], "weight": [1.0], "scope_threshold": 0.05},
    "sites": {"coupling": 1.0, "rate": 1.0, "D": 0.0005},
    "input": [
        {
            "profile": "gaussian",
            "centre": [0.0, 0.0],
            "radius": 0.1,
            "amplitude": 0.6,
            "start": 1.0,
            "period": 1.5,
            "count": 6,
            "width": 0.3,
        },
        {
            "profile": "gaussian",
            "centre": [0.0, 0.0],
            "radius": 0.1,
            "amplitude": 0.6,
            "start": 25.0,
            "period": 1.5,
            "count": 3,
            "width": 0.3,
        },
    ],
    "output": {"dir": "bmf-out", "every": 10},
}
