"""The configuration layer: defaults, every kind of error, overrides, writing back."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import pytest

from bmf_fem.config import (
    Config,
    InputConfig,
    MeshConfig,
    PerturbationConfig,
    apply_overrides,
    config_from_dict,
    dump_toml,
    load_config,
)
from bmf_fem.errors import ConfigError
from bmf_fem.expressions import Expression, ExpressionError


def write(directory: Path, text: str, name: str = "run.toml") -> Path:
    path = directory / name
    path.write_text(text)
    return path


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data)
    return str(caught.value)


# ---------------------------------------------------------------------------------------
# Defaults


def test_empty_file_is_a_valid_run_with_the_documented_defaults(tmp_path):
    config = load_config(write(tmp_path, ""))
    assert config.source == str(tmp_path / "run.toml")
    assert config == Config() == load_config() == config_from_dict({})

    assert (config.mesh.kind, config.mesh.params) == ("crystal", {})
    assert config.space.degree == 1
    assert (config.time.dt, config.time.t_end, config.time.scheme) == (0.05, 40.0, "sbdf1")

    field = config.field
    assert (field.D, field.decay, field.feedback, field.noise) == (0.01, 1.0, 0.1, 0.0)
    assert (field.reaction.text, field.initial.text) == ("0", "0")

    memory = config.memory
    assert (memory.D, memory.tau, memory.weight, memory.scope_threshold) == (
        0.0,
        (20.0,),
        (1.0,),
        0.05,
    )
    assert (memory.source.text, memory.initial.text) == ("u*abs(u)", "0")
    assert memory.modes == 1

    sites = config.sites
    assert (sites.mode, sites.D, sites.rate, sites.coupling, sites.noise, sites.on) == (
        "continuum",
        0.0,
        1.0,
        1.0,
        0.0,
        0.0,
    )
    assert (sites.initial.text, sites.stabilisation) == ("-1", "auto")

    assert config.inputs == ()
    assert config.perturbations == ()
    solver = config.solver
    assert solver.direct_max_dofs == -1
    assert (solver.ksp_type, solver.pc_type, solver.rtol, solver.atol, solver.max_it) == (
        "auto",
        "auto",
        1e-6,
        0.0,
        1000,
    )
    assert solver.petsc_options == {}
    output = config.output
    assert (output.dir, output.every, output.checkpoint_every, output.seed) == (
        "bmf-out",
        10,
        0,
        12345,
    )
    assert output.fields == ("u", "M", "phi", "s", "expression_time")


def test_entry_defaults():
    config = config_from_dict(
        {"input": [{}], "perturbation": [{"kind": "reset", "region": "hole"}]}
    )
    assert config.inputs == (InputConfig(),)
    entry = config.inputs[0]
    assert (entry.profile, entry.centre, entry.radius, entry.amplitude) == (
        "gaussian",
        (0.0, 0.0),
        0.1,
        1.0,
    )
    assert (entry.start, entry.period, entry.count, entry.width) == (0.0, 1.0, 1, 0.1)
    perturbation = config.perturbations[0]
    assert perturbation == PerturbationConfig(kind="reset", region="hole")
    assert (perturbation.start, perturbation.stop, perturbation.location) == (
        0.0,
        math.inf,
        "region",
    )


def test_expressions_are_parsed_with_the_names_of_their_setting():
    config = config_from_dict(
        {
            "field": {"reaction": "u*(1 - u)*(u - M) + sin(t)", "initial": "exp(-x**2)"},
            "memory": {"source": "max(u, 0)**2 + phi*s"},
            "sites": {"initial": "-1 + 0*z"},
        }
    )
    assert isinstance(config.field.reaction, Expression)
    assert config.field.reaction.names == {"u", "M", "t"}
    assert config.field.initial.names == {"x"}
    assert config.memory.source.names == {"u", "phi", "s"}


def test_numbers_are_accepted_for_expressions():
    config = config_from_dict({"field": {"initial": 0.5}, "sites": {"initial": -1}})
    assert config.field.initial.text == "0.5"
    assert config.sites.initial.to_numpy({}) == -1.0


def test_integers_are_accepted_for_floats():
    config = config_from_dict({"time": {"dt": 1, "t_end": 10}})
    assert config.time.dt == 1.0
    assert isinstance(config.time.dt, float)


def test_scalar_tau_and_weight_become_lists_and_weights_default_to_one():
    assert config_from_dict({"memory": {"tau": 5, "weight": 2}}).memory.tau == (5.0,)
    assert config_from_dict({"memory": {"tau": 5, "weight": 2}}).memory.weight == (2.0,)
    memory = config_from_dict({"memory": {"tau": [1, 10, 100]}}).memory
    assert (memory.tau, memory.weight, memory.modes) == ((1.0, 10.0, 100.0), (1.0,) * 3, 3)


def test_mesh_keys_are_checked_by_the_geometry_library():
    config = config_from_dict({"mesh": {"kind": "crystal", "inclusions": 2}})
    assert config.mesh.params == {"inclusions": 2}
    with pytest.raises(ConfigError) as caught:
        config_from_dict({"mesh": {"kind": "crystal", "inclusion": 2}})
    message = str(caught.value)
    assert "mesh.inclusion is not a key of [mesh] for kind = 'crystal'" in message
    assert "mesh.inclusions" in message


def test_mesh_file_is_relative_to_the_config_file(tmp_path, monkeypatch):
    (tmp_path / "meshes").mkdir()
    mesh_file = tmp_path / "meshes" / "grain.msh"
    mesh_file.write_text("")
    path = write(tmp_path, '[mesh]\nkind = "file"\nfile = "meshes/grain.msh"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert Path(load_config(path).mesh.params["file"]) == mesh_file


def test_petsc_options_keep_their_types_without_leading_dashes():
    options = {"pc_hypre_type": "boomeramg", "-ksp_monitor": True, "ksp_gmres_restart": 50}
    options["pc_hypre_boomeramg_strong_threshold"] = 0.5
    solver = config_from_dict({"solver": {"petsc_options": options}}).solver
    assert solver.petsc_options == {
        "pc_hypre_type": "boomeramg",
        "ksp_monitor": True,
        "ksp_gmres_restart": 50,
        "pc_hypre_boomeramg_strong_threshold": 0.5,
    }


def test_config_is_frozen():
    config = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.time.dt = 1.0  # type: ignore[misc]


# ---------------------------------------------------------------------------------------
# Unknown sections and keys


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"time": {"dtt": 0.1}},
            [
                "unknown key time.dtt",
                "did you mean time.dt?",
                "valid keys in [time]: dt, t_end, scheme",
            ],
        ),
        ({"field": {"difusion": 1.0}}, ["unknown key field.difusion", "valid keys in [field]: D,"]),
        ({"tiem": {"dt": 0.1}}, ["unknown section [tiem]", "did you mean [time]?", "[[input]]"]),
        ({"dt": 0.1}, ["unknown top-level key dt", "did you mean time.dt?"]),
        ({"time": {"tau": 5}}, ["unknown key time.tau", "did you mean memory.tau?"]),
        ({"time": {"D": 1}}, ["did you mean field.D, memory.D or sites.D?"]),
        (
            {"rate": 1},
            ["unknown top-level key rate (did you mean sites.rate or detect.rate? keys go in"],
        ),
        (
            {"input": [{}, {"amplitud": 2}]},
            ["unknown key input.1.amplitud", "did you mean input.1.amplitude?", "[[input]]"],
        ),
        (
            {"perturbation": [{"kind": "reset", "region": "a", "stat": 1}]},
            ["unknown key perturbation.0.stat", "did you mean perturbation.0.start?"],
        ),
    ],
)
def test_unknown_names_are_refused_with_a_hint(data, expected):
    message = error_of(data)
    for fragment in expected:
        assert fragment in message


# ---------------------------------------------------------------------------------------
# Wrong types


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"time": {"dt": "fast"}},
            'time.dt = "fast" has the wrong type: expected a number, got a string',
        ),
        (
            {"time": {"dt": True}},
            "time.dt = true has the wrong type: expected a number, got a boolean",
        ),
        (
            {"space": {"degree": 2.0}},
            "space.degree = 2.0 has the wrong type: expected an integer, got a float (write 2",
        ),
        (
            {"space": {"degree": True}},
            "space.degree = true has the wrong type: expected an integer, got a boolean",
        ),
        ({"output": {"every": 2.5}}, "output.every = 2.5 has the wrong type: expected an integer"),
        (
            {"mesh": {"kind": 3}},
            "mesh.kind = 3 has the wrong type: expected a string, got an integer",
        ),
        (
            {"memory": {"tau": "20"}},
            'memory.tau = "20" has the wrong type: expected an array of numbers',
        ),
        (
            {"memory": {"tau": [20, "a"]}},
            'memory.tau[1] = "a" has the wrong type: expected a number',
        ),
        (
            {"field": {"reaction": True}},
            "field.reaction = true has the wrong type: expected a string",
        ),
        ({"output": {"fields": "u"}}, 'output.fields = "u" has the wrong type: expected an array'),
        ({"time": 0.1}, "time = 0.1 has the wrong type: expected a table ([time])"),
        ({"input": {"amplitude": 1}}, "write [[input]] (double brackets)"),
        ({"input": 3}, "input = 3 has the wrong type: expected an array of tables"),
        ({"input": [3]}, "input.0 = 3 has the wrong type: expected a table ([[input]])"),
        (
            {"solver": {"petsc_options": {"ksp_view": [1]}}},
            "solver.petsc_options.ksp_view = [1] has the wrong type",
        ),
        (
            {"solver": {"petsc_options": "-ksp_monitor"}},
            'solver.petsc_options = "-ksp_monitor" has the wrong type',
        ),
    ],
)
def test_wrong_types_name_the_key_the_value_and_the_expected_type(data, expected):
    assert expected in error_of(data)


# ---------------------------------------------------------------------------------------
# Impossible values


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"time": {"dt": 0}}, "time.dt = 0 is not valid: it must be > 0"),
        ({"time": {"dt": -0.1}}, "time.dt = -0.1 is not valid: it must be > 0"),
        ({"time": {"dt": math.nan}}, "time.dt = nan is not valid: it must be a finite number"),
        ({"time": {"dt": math.inf}}, "time.dt = inf is not valid: it must be a finite number"),
        ({"time": {"t_end": -1.0}}, "time.t_end = -1.0 is not valid: it must be >= 0"),
        ({"time": {"scheme": "sbdf3"}}, 'time.scheme = "sbdf3" is not valid (did you mean "sbdf'),
        ({"time": {"scheme": "euler"}}, 'valid values: "sbdf1", "sbdf2"'),
        ({"field": {"D": -0.01}}, "field.D = -0.01 is not valid: it must be >= 0"),
        ({"field": {"noise": -1}}, "field.noise = -1 is not valid: it must be >= 0"),
        (
            {"memory": {"tau": [10, 0]}},
            "memory.tau = [10, 0] is not valid: every entry must be > 0",
        ),
        ({"memory": {"tau": []}}, "memory.tau = [] is not valid: it must have at least 1 entries"),
        (
            {"memory": {"tau": [1, 2], "weight": [1]}},
            "memory.weight = [1] has 1 entries but memory.tau = [1, 2] has 2",
        ),
        ({"memory": {"scope_threshold": -0.1}}, "memory.scope_threshold = -0.1 is not valid"),
        ({"space": {"degree": 3}}, "space.degree = 3 is not valid: valid values are 1, 2"),
        ({"mesh": {"dim": 4}}, "mesh.dim = 4 is not valid"),
        (
            {"mesh": {"kind": "crystl"}},
            'mesh.kind = "crystl" is not valid (did you mean "crystal"?)',
        ),
        ({"mesh": {"h": 0}}, "mesh.h"),
        ({"mesh": {"size": -1}}, "mesh.size"),
        ({"mesh": {"seed": -1}}, "mesh.seed"),
        ({"mesh": {"kind": "file"}}, 'mesh.file is required when mesh.kind = "file"'),
        (
            {"mesh": {"kind": "file", "file": "/nonexistent/a.msh"}},
            "no such file /nonexistent/a.msh",
        ),
        (
            {"sites": {"mode": "cell"}},
            'sites.mode = "cell" is not valid',
        ),
        ({"sites": {"rate": -1.0}}, "sites.rate = -1.0 is not valid: it must be >= 0"),
        ({"sites": {"stabilisation": -2}}, "sites.stabilisation = -2 is not valid"),
        ({"solver": {"rtol": 1.0}}, "solver.rtol = 1.0 is not valid: it must be > 0 and < 1"),
        ({"solver": {"rtol": 0}}, "solver.rtol = 0 is not valid: it must be > 0 and < 1"),
        ({"solver": {"pc_type": "amg"}}, 'solver.pc_type = "amg" is not valid'),
        ({"solver": {"max_it": 0}}, "solver.max_it = 0 is not valid: it must be an integer >= 1"),
        ({"solver": {"ksp_type": ""}}, 'solver.ksp_type = "" is not valid: it must not be empty'),
        ({"output": {"every": 0}}, "output.every = 0 is not valid: it must be an integer >= 1"),
        ({"output": {"fields": ["u", "u"]}}, '"u" appears twice'),
        ({"output": {"fields": ["u", "U2"]}}, 'unknown field "U2"'),
        ({"output": {"fields": ["phii"]}}, 'did you mean "phi"?'),
        ({"output": {"dir": ""}}, 'output.dir = "" is not valid: it must not be empty'),
        ({"output": {"checkpoint_every": -1}}, "output.checkpoint_every = -1 is not valid"),
    ],
)
def test_impossible_values_name_the_key_and_what_is_valid(data, expected):
    assert expected in error_of(data)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"profile": "region"}, 'input.0.region is required when profile = "region"'),
        (
            {"region": "core"},
            'input.0.region is only used with profile = "region", but input.0.profile = "gaussian"',
        ),
        (
            {"profile": "everywhere", "centre": [0.5, 0.5]},
            'input.0.centre is only used with profile = "gaussian"',
        ),
        ({"profile": "gauss"}, 'input.0.profile = "gauss" is not valid (did you mean "gaussian"?)'),
        ({"centre": []}, "input.0.centre = [] is not valid: it must have 1 to 3 entries"),
        ({"centre": [0, 0, 0, 0]}, "it must have 1 to 3 entries, not 4"),
        ({"radius": 0}, "input.0.radius = 0 is not valid: it must be > 0"),
        ({"start": -1}, "input.0.start = -1 is not valid: it must be >= 0"),
        ({"period": 0}, "input.0.period = 0 is not valid: it must be >= 2.22507e-308"),
        ({"count": 0}, "input.0.count = 0 is not valid: it must be an integer >= 1"),
        ({"width": 0}, "input.0.width = 0 is not valid: it must be >= 2.22507e-308"),
        (
            {"count": 3, "period": 1.0, "width": 1.5},
            "input.0.width = 1.5 is not valid: with count = 3 pulses it must be"
            " <= input.0.period = 1.0",
        ),
    ],
)
def test_impossible_inputs(entry, expected):
    assert expected in error_of({"input": [entry]})


def test_a_single_long_pulse_is_allowed():
    assert config_from_dict({"input": [{"count": 1, "width": 5.0}]}).inputs[0].width == 5.0


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"region": "hole"}, 'perturbation.0.kind is required: one of "reset", "damage", "noise"'),
        ({"kind": "cut", "region": "hole"}, 'perturbation.0.kind = "cut" is not valid'),
        ({"kind": "reset"}, "perturbation.0 needs exactly one location, found none"),
        ({"kind": "reset", "region": "a", "box": [[0], [1]]}, "found region and box"),
        ({"kind": "reset", "centre": [0, 0]}, "perturbation.0.radius is required"),
        ({"kind": "reset", "radius": 0.1}, "perturbation.0.centre is required"),
        (
            {"kind": "reset", "centre": [0, 0], "radius": -1},
            "perturbation.0.radius = -1 is not valid",
        ),
        (
            {"kind": "reset", "box": [[0, 1], [1, 0.5]]},
            "every lower coordinate must be smaller than the upper one",
        ),
        ({"kind": "reset", "box": [[0, 0], [1]]}, "expected [[lower corner], [upper corner]]"),
        ({"kind": "reset", "box": [0, 1]}, "expected [[lower corner], [upper corner]]"),
        (
            {"kind": "reset", "region": ""},
            'perturbation.0.region = "" is not valid: it must not be empty',
        ),
        (
            {"kind": "reset", "region": "a", "start": 5, "stop": 5},
            "perturbation.0.stop = 5.0 is not valid: it must be > perturbation.0.start = 5.0",
        ),
        ({"kind": "noise", "region": "a"}, 'perturbation.0.sigma is required for kind = "noise"'),
        (
            {"kind": "noise", "region": "a", "sigma": 0},
            "perturbation.0.sigma = 0 is not valid: it must be > 0",
        ),
        (
            {"kind": "damage", "region": "a", "factor": -1},
            "perturbation.0.factor = -1 is not valid: it must be >= 0",
        ),
        (
            {"kind": "reset", "region": "a", "factor": 0.5},
            'perturbation.0.factor is only used with kind = "damage"',
        ),
        (
            {"kind": "damage", "region": "a", "sigma": 0.5},
            'perturbation.0.sigma is only used with kind = "noise"',
        ),
    ],
)
def test_impossible_perturbations(entry, expected):
    assert expected in error_of({"perturbation": [entry]})


def test_perturbation_locations():
    config = config_from_dict(
        {
            "perturbation": [
                {"kind": "reset", "region": "hole", "start": 10},
                {"kind": "damage", "centre": [0.5, 0.5], "radius": 0.1, "factor": 0.0},
                {"kind": "noise", "box": [[0, 0], [1, 0.5]], "sigma": 0.3, "stop": 20},
            ]
        }
    )
    reset, damage, noise = config.perturbations
    assert (reset.location, reset.region, reset.start) == ("region", "hole", 10.0)
    assert (damage.location, damage.centre, damage.radius, damage.factor) == (
        "ball",
        (0.5, 0.5),
        0.1,
        0.0,
    )
    assert (noise.location, noise.box, noise.sigma, noise.stop) == (
        "box",
        ((0.0, 0.0), (1.0, 0.5)),
        0.3,
        20.0,
    )


def test_bad_expression_points_at_the_text(tmp_path):
    path = write(tmp_path, '[field]\nreaction = "u + foo(x)"\n')
    with pytest.raises(ExpressionError) as caught:
        load_config(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == "field.reaction: unknown function 'foo'"
    assert lines[1] == '    "u + foo(x)"'
    assert lines[2] == "         ^^^"


def test_initial_condition_cannot_use_the_state():
    message = error_of({"sites": {"initial": "-1 + u"}})
    assert message.startswith("sites.initial: the name 'u' is not available")
    assert "the names x, y, z," in message


# ---------------------------------------------------------------------------------------
# Files


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"configuration file .*nope\.toml does not exist"):
        load_config(tmp_path / "nope.toml")


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read configuration file"):
        load_config(tmp_path)  # a directory


def test_toml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "[time]\ndt = 0.1\nt_end = = 3\n", name="broken.toml")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: not valid TOML")
    assert "t_end = = 3" in message


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'[mesh]\nshape = "\xe9"\n')
    with pytest.raises(ConfigError, match="is not UTF-8"):
        load_config(path)


def test_base_dict_is_used_under_the_file_and_left_unchanged(tmp_path):
    base = {"time": {"dt": 0.1, "t_end": 5.0}, "input": [{"amplitude": 3.0}]}
    assert load_config(base=base).time.dt == 0.1
    assert load_config(base=base).source == "<built-in>"
    path = write(tmp_path, "[time]\nt_end = 7.0\n")
    config = load_config(path, overrides=["input.0.amplitude=4"], base=base)
    assert (config.time.dt, config.time.t_end, config.inputs[0].amplitude) == (0.1, 7.0, 4.0)
    assert base == {"time": {"dt": 0.1, "t_end": 5.0}, "input": [{"amplitude": 3.0}]}


# ---------------------------------------------------------------------------------------
# Overrides


def test_overrides_parse_toml_values_and_fall_back_to_strings(tmp_path):
    path = write(tmp_path, "[[input]]\ncentre = [0.2, 0.3]\n")
    config = load_config(
        path,
        overrides=[
            "time.dt=0.02",
            "mesh.kind=box",
            " mesh.shape = 'rectangle' ",
            "field.reaction=u*(1 - u)",
            "field.initial=0.5",
            "memory.tau=[5, 50]",
            "input.0.amplitude=2",
            "input.1.profile=everywhere",
            "solver.petsc_options.pc_hypre_type=boomeramg",
            "solver.petsc_options.ksp_monitor=true",
            "mesh.lengths=[2.0, 1.0]",
        ],
    )
    assert config.time.dt == 0.02
    assert (config.mesh.kind, config.mesh.params) == (
        "box",
        {"shape": "rectangle", "lengths": [2.0, 1.0]},
    )
    assert config.field.reaction.text == "u*(1 - u)"
    assert config.field.initial.text == "0.5"
    assert config.memory.tau == (5.0, 50.0)
    assert len(config.inputs) == 2
    assert (config.inputs[0].amplitude, config.inputs[0].centre) == (2.0, (0.2, 0.3))
    assert config.inputs[1] == InputConfig(profile="everywhere")
    assert config.solver.petsc_options == {"pc_hypre_type": "boomeramg", "ksp_monitor": True}


def test_override_adds_the_first_entry_of_an_array_of_tables():
    config = load_config(overrides=["perturbation.0.kind=reset", "perturbation.0.region=hole"])
    assert config.perturbations == (PerturbationConfig(kind="reset", region="hole"),)


def test_apply_overrides_returns_a_copy():
    data = {"time": {"dt": 0.1}}
    assert apply_overrides(data, ["time.dt=0.2"]) == {"time": {"dt": 0.2}}
    assert data == {"time": {"dt": 0.1}}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("timedt", 'malformed override "timedt": expected section.key=value'),
        ("time.dt", 'malformed override "time.dt"'),
        ("=2", 'malformed override "=2"'),
        ("time.=3", 'malformed override "time.=3"'),
        ("dt=3", 'malformed override "dt=3"'),
        (
            "input.amplitude=2",
            "input is an array (like [[input]]); name an entry by its index,"
            " e.g. input.0.amplitude",
        ),
        (
            "input.2.amplitude=2",
            "input has 1 entries, so the index must be 0..0 to change one, or 1 to add one",
        ),
        ("input.-1.amplitude=2", "name an entry by its index"),
        ("memory.tau.x=1", "memory.tau is an array"),
        ("time.dt.x=1", "time.dt is not a table"),
        ("perturbation.1.kind=reset", "perturbation has no entries; use index 0"),
    ],
)
def test_malformed_overrides_are_quoted(override, expected):
    with pytest.raises(ConfigError) as caught:
        load_config(
            base={"input": [{}], "time": {"dt": 0.1}, "memory": {"tau": [1.0]}},
            overrides=[override],
        )
    assert expected in str(caught.value)


def test_override_of_an_unknown_key_names_it():
    with pytest.raises(ConfigError, match=r"unknown key time\.dtt \(did you mean time\.dt\?\)"):
        load_config(overrides=["time.dtt=0.1"])


def test_override_value_of_the_wrong_type():
    with pytest.raises(ConfigError, match=r'time\.dt = "fast" has the wrong type'):
        load_config(overrides=["time.dt=fast"])


# ---------------------------------------------------------------------------------------
# Writing back


RICH_CONFIG = """
[mesh]
kind = "file"
file = "grain.msh"
shape = "irregular"
size = 2.5
h = 0.02
dim = 3
seed = 7

[space]
degree = 2

[time]
dt = 0.001
t_end = 12.5
scheme = "sbdf2"

[field]
D = 0.02
decay = 0.5
feedback = -0.25
reaction = "0.1*u*(1 - u)*(u - 0.2) - 0.01*M"
noise = 0.001
initial = "exp(-((x - 0.5)**2 + (y - 0.5)**2)/0.01)"

[memory]
D = 0.001
tau = [1.0, 10.0, 100.0]
weight = [0.5, 0.3, 0.2]
source = "max(u, 0)**2"
scope_threshold = 0.1
initial = "0.01"

[sites]
D = 0.0001
rate = 5.0
coupling = 0.8
noise = 0.05
on = 0.1
initial = "-1"
stabilisation = 3.0

[[input]]
centre = [0.25, 0.75]
radius = 0.05
amplitude = -2.0
start = 1.0
period = 2.0
count = 4
width = 0.5

[[input]]
profile = "region"
region = "left arm"
amplitude = 1e-3

[[input]]
profile = "everywhere"

[[perturbation]]
kind = "reset"
region = "hole"
start = 5.0

[[perturbation]]
kind = "damage"
centre = [0.1, 0.2, 0.3]
radius = 0.2
factor = 0.0
stop = 8.0

[[perturbation]]
kind = "noise"
box = [[0.0, 0.0], [0.5, 1.0]]
sigma = 0.4
stop = inf

[solver]
ksp_type = "gmres"
pc_type = "gamg"
rtol = 1e-10
atol = 0.0
max_it = 200

[solver.petsc_options]
pc_gamg_threshold = 0.02
ksp_monitor = false
ksp_gmres_restart = 40
pc_gamg_type = "agg"

[output]
dir = "runs/rich quote \\" backslash \\\\ tab \\t é"
every = 3
fields = ["u", "m", "expression_time"]
checkpoint_every = 50
seed = 99
"""


def test_round_trip_through_toml_gives_an_equal_config(tmp_path):
    (tmp_path / "grain.msh").write_text("")
    original = load_config(write(tmp_path, RICH_CONFIG))
    assert original != Config()
    assert len(original.inputs) == 3 and len(original.perturbations) == 3
    assert original.mesh.params["seed"] == 7
    assert original.output.dir.endswith('rich quote " backslash \\ tab \t é')

    written = dump_toml(original.to_dict())
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    reloaded = load_config(write(copy_dir, written, name="config.toml"))
    assert reloaded == original
    assert reloaded.to_dict() == original.to_dict()
    assert reloaded.source != original.source  # not part of equality
    assert reloaded.perturbations[2].stop == math.inf


def test_round_trip_of_defaults_and_sensitivity_to_changes():
    written = dump_toml(Config().to_dict())
    assert config_from_dict(tomllib.loads(written)) == Config()
    changed = written.replace("dt = 0.05", "dt = 0.04")
    assert changed != written
    assert config_from_dict(tomllib.loads(changed)) != Config()


def test_to_dict_omits_keys_the_entry_does_not_use():
    config = config_from_dict(
        {
            "input": [{"profile": "everywhere"}],
            "perturbation": [{"kind": "noise", "region": "a", "sigma": 1.0}],
        }
    )
    data = config.to_dict()
    assert "centre" not in data["input"][0] and "region" not in data["input"][0]
    assert set(data["perturbation"][0]) == {"kind", "region", "start", "stop", "sigma"}


def test_dump_toml_round_trips_awkward_data():
    data = {
        "top": 1,
        "text": 'quotes " and \\ backslash\nnewline\ttab \x01 control \x7f del é ü 中',
        "key with spaces": True,
        "dotted.key": -0.0,
        "numbers": [0.1, 1e-300, 1e300, -math.inf, math.inf, 3, -4],
        "empty_list": [],
        "empty_table": {},
        "mixed": [1, "a", [2.5, False], {"inline": "table"}],
        "section": {
            "value": "x",
            "deeper": {"deepest": {"n": 2}},
            "items": [{"a": 1, "sub": {"b": 2}, "more": [{"c": 3}]}, {"a": 4}],
        },
        "entries": [{"name": "first"}, {"name": "second", "nested": {"z": []}}],
    }
    assert tomllib.loads(dump_toml(data)) == data


def test_dump_toml_writes_nan_and_refuses_what_toml_cannot_hold():
    assert math.isnan(tomllib.loads(dump_toml({"x": math.nan}))["x"])
    with pytest.raises(TypeError):
        dump_toml({"x": None})
    with pytest.raises(TypeError):
        dump_toml({1: "x"})


def test_mesh_config_equality_includes_params():
    assert MeshConfig(params={"h": 0.1}) != MeshConfig()
