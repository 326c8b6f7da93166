"""A ParaView Python script written next to a run's fields: open it with one command.

    paraview --script=RUN/open_in_paraview.py

It opens fields.xdmf as a time series, shows u with a fixed colour range over the whole
run, and adds a time annotation; other fields are one click away in the toolbar.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE = '''"""Open this bmf-fem run in ParaView: paraview --script={name}"""

import os

from paraview import simple

here = os.path.dirname(os.path.abspath(__file__))
fields = os.path.join(here, "fields.xdmf")
reader = simple.Xdmf3ReaderS(registrationName="fields", FileName=[fields])
reader.UpdatePipelineInformation()
view = simple.GetActiveViewOrCreate("RenderView")
display = simple.Show(reader, view)
simple.ColorBy(display, ("POINTS", "{field}"))
lut = simple.GetColorTransferFunction("{field}")
lut.ApplyPreset("{preset}", True)
lut.RescaleTransferFunction({low!r}, {high!r})
display.SetScalarBarVisibility(view, True)
bar = simple.GetScalarBar(lut, view)
bar.Title = "{field} (non-dimensional)"
time = simple.AnnotateTimeFilter(reader, Format="t = {{time:.3f}}")
simple.Show(time, view)
view.InteractionMode = "{mode}"
simple.ResetCamera(view)
scene = simple.GetAnimationScene()
scene.UpdateAnimationUsingDataTimeSteps()
scene.AnimationTime = scene.EndTime
simple.Render(view)
'''


def write_state_script(run: Path, rows: list[dict], dim: int) -> Path:
    """Write ``open_in_paraview.py`` for the run (u coloured over its whole range)."""
    high = max((float(row["u_max"]) for row in rows), default=1.0)
    path = Path(run) / "open_in_paraview.py"
    path.write_text(
        TEMPLATE.format(
            name=path.name,
            field="u",
            preset="Viridis (matplotlib)",
            low=0.0,
            high=high if high > 0 else 1.0,
            mode="3D" if dim == 3 else "2D",
        )
    )
    return path
