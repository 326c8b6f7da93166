"""Input profiles are registered variants: each declares its own keys, and a moving
Gaussian deposits what the exact time integral of the moving pulse gives."""

from __future__ import annotations

import math

import numpy as np
import pytest
from model_setup import advance, make
from scipy.special import erf
from test_inputs import storage_only

from bmf_fem.config import ConfigError, config_from_dict
from bmf_fem.config.keys import keys_of
from bmf_fem.profiles import PROFILE_KEYS, PROFILES

MOVING = {
    "profile": "moving_gaussian",
    "centre": [0.2],
    "velocity": [0.4],
    "radius": 0.1,
    "start": 0.5,
    "width": 1.5,
    "amplitude": 1.0,
}


def swept(x: np.ndarray, centre: float, velocity: float, radius: float, width: float):
    """(1/width) * integral over [0, width) of exp(-(x - centre - velocity s)^2 / radius^2)."""
    scale = radius * math.sqrt(math.pi) / (2.0 * velocity * width)
    return scale * (erf((x - centre) / radius) - erf((x - centre - velocity * width) / radius))


def moving_error(dt: float) -> float:
    simulation = make(storage_only(time={"dt": dt, "t_end": 3.0}, input=[MOVING]))
    advance(simulation, 2.5)
    u, x = simulation.model.u.x.array, simulation.model.coordinates[:, 0]
    error = np.max(np.abs(u - swept(x, 0.2, 0.4, 0.1, 1.5)))
    simulation.close()
    return float(error)


def test_a_moving_gaussian_deposits_the_exact_swept_integral_to_second_order():
    """Steps that do not divide the pulse's start or end: the midpoint rule of the moving
    centre converges at second order to the erf integral the code did not write."""
    coarse, fine = moving_error(0.07), moving_error(0.035)
    assert coarse < 2e-3
    assert coarse / fine > 3.0


def test_a_moving_gaussian_at_rest_is_the_gaussian():
    at_rest = {**MOVING, "velocity": [0.0]}
    still = {key: MOVING[key] for key in ("centre", "radius", "start", "width", "amplitude")}
    simulations = [
        make(storage_only(input=[at_rest])),
        make(storage_only(input=[{"profile": "gaussian", **still}])),
    ]
    for simulation in simulations:
        advance(simulation, 2.1)
    first, second = (s.model.u.x.array.copy() for s in simulations)
    assert first == pytest.approx(second, rel=1e-12, abs=1e-300)
    for simulation in simulations:
        simulation.close()


def test_each_profile_owns_its_keys_and_refuses_the_others():
    for name, profile in PROFILES.items():
        for key in PROFILE_KEYS:
            entry = {"profile": name, key: "r" if key == "region" else [0.1]}
            if key == "radius":
                entry[key] = 0.1
            if name == "region":
                entry.setdefault("region", "r")
            if key in keys_of(profile.keys):
                config_from_dict({"input": [entry]})
            else:
                with pytest.raises(ConfigError, match=f"input.0.{key} is only used with profile"):
                    config_from_dict({"input": [entry]})


def test_profile_keys_round_trip_and_read_as_attributes():
    config = config_from_dict({"input": [MOVING, {"profile": "region", "region": "cell_1"}]})
    moving, region = config.inputs
    assert (moving.centre, moving.velocity, moving.radius) == ((0.2,), (0.4,), 0.1)
    assert region.region == "cell_1"
    with pytest.raises(AttributeError, match="no key 'velocity'"):
        _ = region.velocity
    assert config_from_dict(config.to_dict()) == config
    assert set(config.to_dict()["input"][0]) == {
        "profile",
        "amplitude",
        "start",
        "period",
        "count",
        "width",
        "centre",
        "radius",
        "velocity",
    }
    with pytest.raises(ConfigError, match=r"input.0.velocity = \[1.0, 2.0, 3.0, 4.0\]"):
        config_from_dict({"input": [{**MOVING, "velocity": [1.0, 2.0, 3.0, 4.0]}]})
