"""load_generator: spec parsing, python: and torchscript: adapters, the probe check, CLI info."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from ganprobe.cli import app
from ganprobe.errors import ModelError
from ganprobe.models import generator_info, load_generator, parse_spec
from ganprobe.models.checks import RangeWarning

FACTORIES = textwrap.dedent(
    '''
    import torch
    from torch import nn


    class Linear(nn.Module):
        """z [N, 4] -> tanh(A z) as [N, 1, 2, 3]."""

        latent_dim = 4

        def __init__(self, scale=1.0, out_shape=(1, 2, 3), dtype=None, fill=None):
            super().__init__()
            self.fc = nn.Linear(4, 6)
            self.scale, self.out_shape, self.dtype, self.fill = scale, out_shape, dtype, fill

        def forward(self, z):
            x = self.scale * torch.tanh(self.fc(z)).view(len(z), *self.out_shape)
            if self.fill is not None:
                x = torch.full_like(x, self.fill)
            return x if self.dtype is None else x.to(self.dtype)


    class Conditional(nn.Module):
        """StyleGAN naming (z_dim, c_dim); forward wants z as [N, 3, 1, 1]."""

        z_dim, c_dim, latent_shape, image_shape = 3, 2, (3, 1, 1), (1, 4, 4)

        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(2, 3)

        def forward(self, z, c):
            assert z.shape[1:] == (3, 1, 1)
            h = z.flatten(1) + self.embed(c)
            return torch.tanh(h.sum(1)).view(-1, 1, 1, 1).expand(-1, 1, 4, 4)


    class Mapped(Linear):
        num_ws, w_dim = 2, 4

        def mapping(self, z):
            return 2 * z

        def synthesis(self, ws):
            return self.forward(ws.mean(1))


    def make(): torch.manual_seed(0); return Linear()
    def conditional(): return Conditional()
    def mapped(): return Mapped()
    def wrong_shape(): return Linear(out_shape=(6,))
    def nan(): return Linear(fill=float("nan"))
    def integer(): return Linear(dtype=torch.int64)
    def wide_range(): return Linear(scale=3.0)
    def no_latent_dim(): return nn.Identity()
    def not_a_module(): return 42
    def broken(): raise RuntimeError("no weights here")
    '''
)


@pytest.fixture
def factories(tmp_path, monkeypatch):
    """A module file usable both as python:FILE.py:fn and (on sys.path) python:module:fn."""
    path = tmp_path / "user_generators.py"
    path.write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


def test_parse_spec_refuses_unknown_kinds():
    assert parse_spec("builtin:runs/gan") == ("builtin", "runs/gan")
    assert parse_spec("python:a.b:make") == ("python", "a.b:make")
    for bad in ("runs/gan", "pickle:x.pkl", "builtin:"):
        with pytest.raises(ModelError, match="not understood"):
            parse_spec(bad)


def test_python_file_and_module_specs_give_the_same_generator(factories):
    by_file = load_generator(f"python:{factories}:make")
    by_module = load_generator("python:user_generators:make")
    for generator in (by_file, by_module):
        assert generator_info(generator) == {
            "latent_dim": 4,
            "num_classes": 0,
            "image_shape": [1, 2, 3],
            "spaces": ["z"],
            "parameters": 30,
        }
    z = torch.randn(5, 4)
    torch.testing.assert_close(by_file(z), by_module(z))


def test_conditional_module_with_latent_shape_and_stylegan_names(factories):
    generator = load_generator(f"python:{factories}:conditional")
    assert (generator.latent_dim, generator.num_classes) == (3, 2)
    assert generator.image_shape == (1, 4, 4)
    z = torch.zeros(2, 3)
    x = generator(z, torch.tensor([0, 1]))
    want = torch.tanh(generator.module.embed.weight.sum(1)).view(2, 1, 1, 1).expand(-1, 1, 4, 4)
    torch.testing.assert_close(x, want)


def test_mapping_and_synthesis_expose_w_spaces(factories):
    generator = load_generator(f"python:{factories}:mapped")
    assert generator_info(generator)["spaces"] == ["z", "w", "w+"]
    z = torch.randn(3, 4)
    torch.testing.assert_close(generator.mapping(z), 2 * z)
    ws = torch.stack([z, 3 * z], dim=1)
    torch.testing.assert_close(generator.synthesis(ws), generator(2 * z))
    plain = load_generator(f"python:{factories}:make")
    assert not hasattr(plain, "mapping") and not hasattr(plain, "num_ws")


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("wrong_shape", "returned shape|must return images"),
        ("nan", "non-finite"),
        ("integer", "dtype torch.int64"),
        ("no_latent_dim", "latent_dim"),
        ("not_a_module", "not a torch.nn.Module"),
        ("broken", "no weights here"),
        ("missing", "no callable 'missing'"),
    ],
)
def test_bad_generators_are_refused_with_one_line(factories, factory, message):
    with pytest.raises(ModelError, match=message) as err:
        load_generator(f"python:{factories}:{factory}")
    assert "\n" not in str(err.value)


def test_declared_shape_that_disagrees_with_the_output_is_refused(tmp_path):
    path = tmp_path / "liar.py"
    path.write_text(
        FACTORIES + "\n\ndef liar():\n    m = Linear()\n    m.image_shape = (1, 3, 2)\n"
        "    return m\n"
    )
    with pytest.raises(ModelError, match=r"returned shape \[2, 1, 2, 3\], want \[2, 1, 3, 2\]"):
        load_generator(f"python:{path}:liar")


def test_out_of_range_output_warns_with_the_range(factories):
    with pytest.warns(RangeWarning, match=r"output range \[-?\d"):
        load_generator(f"python:{factories}:wide_range")


def test_python_spec_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_generator(f"python:{tmp_path / 'nope.py'}:make")
    with pytest.raises(ModelError, match="PYTHONPATH"):
        load_generator("python:no_such_package_xyz:make")
    with pytest.raises(ModelError, match="pkg.module:factory"):
        load_generator("python:only_a_module")


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_torchscript_with_metadata_and_attributes(tmp_path):
    class Traced(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(5, 12)

        def forward(self, z):
            return torch.tanh(self.fc(z)).view(-1, 3, 2, 2)

    module = Traced()
    traced = torch.jit.trace(module, torch.randn(2, 5))
    meta = {"latent_dim": 5, "image_shape": [3, 2, 2]}
    torch.jit.save(traced, str(tmp_path / "g.pt"), _extra_files={"ganprobe.json": json.dumps(meta)})
    generator = load_generator(f"torchscript:{tmp_path / 'g.pt'}")
    assert generator.latent_dim == 5 and generator.image_shape == (3, 2, 2)
    z = torch.randn(4, 5)
    torch.testing.assert_close(generator(z), module(z))

    class Scripted(Traced):
        def __init__(self):
            super().__init__()
            self.latent_dim = 5

    torch.jit.save(torch.jit.script(Scripted()), str(tmp_path / "s.pt"))
    assert load_generator(f"torchscript:{tmp_path / 's.pt'}").latent_dim == 5
    torch.jit.save(traced, str(tmp_path / "bare.pt"))
    with pytest.raises(ModelError, match="latent_dim"):
        load_generator(f"torchscript:{tmp_path / 'bare.pt'}")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ModelError, match="not a TorchScript file"):
        load_generator(f"torchscript:{tmp_path / 'junk.pt'}")


def test_cli_models_info_json_and_errors(factories):
    runner = CliRunner()
    result = runner.invoke(app, ["models", "info", f"python:{factories}:make", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["latent_dim"] == 4 and info["image_shape"] == [1, 2, 3]
    assert set(info) >= {"latent_dim", "num_classes", "image_shape", "spaces"}
    result = runner.invoke(app, ["models", "info", f"python:{factories}:nan"])
    assert result.exit_code == 2
    assert "non-finite" in result.output
