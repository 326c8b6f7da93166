"""A ParaView Python script written next to a run's fields: open it with one command.

    paraview --script=RUN/open_in_paraview.py        (the GUI)
    pvpython RUN/open_in_paraview.py                  (or pvbatch: scripted views)

It opens fields.xdmf with ParaView's XDMF3 reader (the legacy "XDMF Reader" crashes on
dolfinx's files) as a time series, shows u with a fixed colour range over the whole run
at the last time, with a colour bar below the data and a time annotation; other fields
are one click away in the toolbar. 3D runs open with an oblique camera.

The GUI runs the script without ``__file__``: the script then takes the run directory
it was written for, or ``fields.xdmf`` in ParaView's working directory if the run was
moved. It sets the time through the view and the time keeper: the GUI hangs in
``AnimationScene.UpdateAnimationUsingDataTimeSteps`` called from a startup script.
"""

from __future__ import annotations

from pathlib import Path

TEMPLATE = '''"""Open this bmf-fem run in ParaView: paraview --script={name}"""

import os

from paraview import simple

try:  # pvpython and pvbatch define __file__; the GUI's --script does not
    here = os.path.dirname(os.path.abspath(__file__))
except NameError:
    here = {run!r}
fields = os.path.join(here, "fields.xdmf")
if not os.path.exists(fields):  # the run directory was moved: look where ParaView started
    fields = os.path.abspath("fields.xdmf")
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
bar.ComponentTitle = ""
bar.Orientation = "Horizontal"
bar.WindowLocation = "Lower Center"
bar.ScalarBarLength = 0.5
bar.RangeLabelFormat = "%-#.3g"
time = simple.AnnotateTimeFilter(reader, Format="t = {{time:.3f}}")
simple.Show(time, view)
view.InteractionMode = "{mode}"
simple.ResetCamera(view)
camera = view.GetActiveCamera()
if view.InteractionMode == "3D":  # an oblique view instead of straight down on the top
    camera.Elevation(35.0)
    camera.Azimuth(30.0)
    simple.ResetCamera(view)
# Leave the lower quarter of the view to the colour bar, whatever the window's size.
margin = 0.7 if view.InteractionMode == "3D" else 0.75
camera.Dolly(margin)
focal, position = list(camera.GetFocalPoint()), list(camera.GetPosition())
shift = [(1.0 - margin) * value for value in camera.GetViewUp()]
scale = view.CameraParallelScale / margin
view.CameraParallelScale = scale
camera.SetFocalPoint(*[f - scale * s for f, s in zip(focal, shift)])
camera.SetPosition(*[p - scale * s for p, s in zip(position, shift)])
times = list(reader.TimestepValues)
if times:
    view.ViewTime = times[-1]
    simple.GetTimeKeeper().Time = times[-1]
simple.Render(view)
'''


def write_state_script(run: Path, rows: list[dict], dim: int) -> Path:
    """Write ``open_in_paraview.py`` for the run (u coloured over its whole range)."""
    high = max((float(row["u_max"]) for row in rows), default=1.0)
    path = Path(run) / "open_in_paraview.py"
    path.write_text(
        TEMPLATE.format(
            name=path.name,
            run=str(Path(run).resolve()),
            field="u",
            preset="Viridis (matplotlib)",
            low=0.0,
            high=high if high > 0 else 1.0,
            mode="3D" if dim == 3 else "2D",
        )
    )
    return path
