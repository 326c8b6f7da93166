"""Open a run's fields.xdmf with ParaView's own reader; print what it sees as JSON.

Run with pvpython (headless): pvpython paraview_probe.py RUN_DIR/fields.xdmf
"""

import json
import sys

from paraview import simple

reader = simple.Xdmf3ReaderS(FileName=[sys.argv[1]])
reader.UpdatePipelineInformation()
times = list(reader.TimestepValues)
reader.UpdatePipeline(times[-1])
ranges = {}
for data in (reader.PointData, reader.CellData):
    for name in data.keys():  # noqa: SIM118 (ParaView array list, not a dict)
        ranges[name] = list(data[name].GetRange())
print(
    json.dumps(
        {
            "times": times,
            "point_arrays": sorted(reader.PointData.keys()),
            "cell_arrays": sorted(reader.CellArrays),
            "ranges": ranges,
        }
    )
)
