"""The `ganprobe` command line: a typer app whose commands are thin calls into experiments/,
train/, data/ and models/. Errors in the user's input print one line and exit with code 2
(`--debug` shows the traceback)."""

from __future__ import annotations

import warnings

import typer
from pydantic import ValidationError
from typer.core import TyperGroup

from .config import format_validation_error
from .errors import GanprobeError
from .progress import console

_STATE = {"debug": False}


class _ErrorHandlingGroup(TyperGroup):
    """Root command group: turns GanprobeError / ValidationError into one line + exit code 2,
    and Ctrl-C into one line saying how to resume + exit code 130."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (GanprobeError, ValidationError) as exc:
            if _STATE["debug"]:
                raise
            if isinstance(exc, ValidationError):
                message = format_validation_error(exc)
            else:
                message = " ".join(str(exc).split())
            console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            if _STATE["debug"]:
                raise
            console.print("interrupted: finished shards, stages and checkpoints are kept; rerun "
                          "the same command to resume", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None


app = typer.Typer(
    cls=_ErrorHandlingGroup,
    help="ganprobe: what has my generative model really learned?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    _STATE["debug"] = debug
    if not debug:
        warnings.showwarning = _show_warning_one_line


def _show_warning_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Print warnings as one `warning: ...` line on stderr (the full form with --debug)."""
    console.print(f"[yellow]warning:[/] {' '.join(str(message).split())}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


# --- section: data commands -------------------------------------------------------------------

data_app = typer.Typer(help="Data sources: list them, summarise a set, show an image grid.")
app.add_typer(data_app, name="data", no_args_is_help=True)

_SPEC_ARG = typer.Argument(..., help="Data spec, e.g. fashion-mnist:test (see `data list`).")
_LIMIT_OPT = typer.Option(None, "--limit", help="Deterministic subset of N images.")
_SEED_OPT = typer.Option(0, "--seed", help="Seed of the subset and synthetic images.")
_STRICT_OPT = typer.Option(False, "--strict", help="Corrupt image files are errors.")
_SHAPE_OPT = typer.Option(None, "--shape", help="Adapt images to C,H,W (e.g. 3,64,64).")


def _load_data(spec: str, limit: int | None, seed: int, strict: bool, shape: str | None):
    """DataSettings from CLI options -> ImageSet; DataWarnings are printed as warning lines."""
    import warnings

    from .config import DataSettings
    from .data import DataWarning, parse_shape

    settings = DataSettings(
        spec=spec,
        limit=limit,
        seed=seed,
        strict=strict,
        shape=parse_shape(shape) if shape else None,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        images = settings.load()
    for warning in caught:
        if issubclass(warning.category, DataWarning):
            console.print(f"[yellow]warning:[/] {warning.message}", highlight=False, soft_wrap=True)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return images


@data_app.command("list")
def data_list() -> None:
    """List the data sources and their spec strings."""
    from rich.console import Console
    from rich.table import Table

    from .data.specs import list_specs

    table = Table("spec", "what it is", box=None)
    for source in list_specs():
        table.add_row(source.pattern, source.description)
    Console().print(table)  # stdout: the result, not a diagnostic


@data_app.command("info")
def data_info(
    spec: str = _SPEC_ARG,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    limit: int | None = _LIMIT_OPT,
    seed: int = _SEED_OPT,
    strict: bool = _STRICT_OPT,
    shape: str | None = _SHAPE_OPT,
) -> None:
    """Summarise a data set: count, shape [C,H,W], value range, classes and label counts."""
    import json

    from .data import describe

    info = describe(_load_data(spec, limit, seed, strict, shape))
    if as_json:
        typer.echo(json.dumps(info))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=False, box=None)
    names = info["class_names"] or []
    for key in ("name", "count", "shape", "min", "max", "mean", "std", "num_classes"):
        table.add_row(key, f"{info[key]:.4f}" if isinstance(info[key], float) else str(info[key]))
    for label, count in info["label_counts"].items():
        name = f" ({names[int(label)]})" if int(label) < len(names) else ""
        table.add_row(f"label {label}{name}", str(count))
    if info["unlabeled"]:
        table.add_row("unlabeled", str(info["unlabeled"]))
    for note in info["notes"]:
        table.add_row("note", note)
    Console().print(table)


@data_app.command("show")
def data_show(
    spec: str = _SPEC_ARG,
    out: str = typer.Option(..., "--out", help="PNG file to write the image grid to."),
    n: int = typer.Option(64, "--n", min=1, help="Number of images (a seeded random subset)."),
    nrow: int | None = typer.Option(None, "--nrow", min=1, help="Images per row."),
    seed: int = _SEED_OPT,
    strict: bool = _STRICT_OPT,
    shape: str | None = _SHAPE_OPT,
) -> None:
    """Write a grid of `--n` images of a data set as a PNG."""
    from .data import save_image_grid

    images = _load_data(spec, n, seed, strict, shape)
    path = save_image_grid(images.images, out, nrow=nrow)
    console.print(f"wrote {len(images)} images of {spec} to {path}", highlight=False)


# --- section: model commands ------------------------------------------------------------------

models_app = typer.Typer(help="Generators: inspect one, sample it, measure its quality.")
app.add_typer(models_app, name="models", no_args_is_help=True)

_GEN_ARG = typer.Argument(
    ..., help="Generator spec: builtin:DIR, python:MOD:FN, torchscript:F, stylegan:F, biggan:N."
)
_TRUST_OPT = typer.Option(
    False, "--trust-pickle", help="Allow stylegan: pickles (unpickling runs their code)."
)
_TRUNC_OPT = typer.Option(1.0, "--truncation", help="BigGAN truncation (biggan: only).")
_DEVICE_OPT = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, or auto.")


def _print_model_warnings(caught: list) -> None:
    for warning in caught:
        console.print(f"[yellow]warning:[/] {warning.message}", highlight=False, soft_wrap=True)


@models_app.command("info")
def models_info(
    spec: str = _GEN_ARG,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    trust_pickle: bool = _TRUST_OPT,
    truncation: float = _TRUNC_OPT,
    device: str = _DEVICE_OPT,
) -> None:
    """Load a generator, check it with a probe batch, print its protocol fields."""
    import json
    import warnings

    from .models import generator_info, load_generator
    from .utils import resolve_device

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        generator = load_generator(
            spec, str(resolve_device(device)), trust_pickle=trust_pickle, truncation=truncation
        )
    _print_model_warnings(caught)
    info = generator_info(generator)
    if as_json:
        typer.echo(json.dumps(info))
        return
    for key, value in info.items():
        typer.echo(f"{key:12s} {value}")


@models_app.command("sample")
def models_sample(
    spec: str = _GEN_ARG,
    out: str = typer.Option(..., "--out", help="PNG file for the sample grid."),
    n: int = typer.Option(64, "--n", min=1, help="Samples (conditional: per class, max 8)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the latents."),
    trust_pickle: bool = _TRUST_OPT,
    truncation: float = _TRUNC_OPT,
    device: str = _DEVICE_OPT,
) -> None:
    """Write a grid of generator samples (conditional generators: one row per class)."""
    from pathlib import Path

    import torch

    from .data import save_image_grid
    from .models import load_generator
    from .models.quality import generator_images_with_labels, sample_images
    from .utils import resolve_device, torch_generator

    generator = load_generator(
        spec, str(resolve_device(device)), trust_pickle=trust_pickle, truncation=truncation
    )
    if generator.num_classes:
        columns = min(n, 8)
        labels = torch.arange(generator.num_classes).repeat_interleave(columns)
        images = generator_images_with_labels(generator, labels, seed)
    else:
        images, _ = sample_images(generator, n, torch_generator(seed))
        columns = min(8, n)
    path = save_image_grid(images, Path(out), nrow=columns)
    console.print(f"wrote {len(images)} samples of {spec} to {path}", highlight=False)


@models_app.command("quality")
def models_quality(
    spec: str = _GEN_ARG,
    data: str = typer.Option("fashion-mnist:test", "--data", help="Data spec to compare with."),
    reference: str = typer.Option(
        "fashion-mnist:train", "--reference", help="Second data set for the floor (data vs it)."
    ),
    classifier: str | None = typer.Option(
        None, "--classifier", help="Classifier run dir (default: the cached default one)."
    ),
    samples: int = typer.Option(5000, "--samples", min=2, help="Samples and images compared."),
    out: str = typer.Option("runs/quality", "--out", help="Run directory."),
    seed: int = typer.Option(0, "--seed"),
    trust_pickle: bool = _TRUST_OPT,
    device: str = _DEVICE_OPT,
) -> None:
    """Frechet distance (classifier features) of samples vs data, the train-vs-test floor,
    and for conditional generators the classifier's accuracy on each class's samples."""
    import json
    from pathlib import Path

    from .config import QualitySettings
    from .models.quality import run_quality

    settings = QualitySettings(
        generator=spec,
        data=data,
        reference=reference,
        classifier=classifier,
        samples=samples,
        trust_pickle=trust_pickle,
        seed=seed,
        device=device,
    )
    summary = run_quality(settings, Path(out))
    typer.echo(json.dumps(summary, indent=2))


# --- section: train commands ------------------------------------------------------------------

train_app = typer.Typer(help="Train ganprobe's own models (resumable; see docs/models.md).")
app.add_typer(train_app, name="train", no_args_is_help=True)


@train_app.command("gan")
def train_gan_command(
    out: str = typer.Option(..., "--out", help="Run directory (rerun to resume)."),
    data: str = typer.Option("fashion-mnist:train", "--data", help="Training data spec."),
    conditional: bool = typer.Option(False, "--conditional", help="Class-conditional GAN."),
    quick: bool = typer.Option(False, "--quick", help="Tiny configuration (~30 s)."),
    limit: int | None = typer.Option(None, "--limit", help="Use at most N training images."),
    steps: int | None = typer.Option(None, "--steps", help="Generator updates."),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    latent_dim: int | None = typer.Option(None, "--latent-dim"),
    width: int | None = typer.Option(None, "--width", help="Channels at full resolution."),
    lr: float | None = typer.Option(None, "--lr", help="Adam learning rate (G and D)."),
    ema_decay: float | None = typer.Option(None, "--ema-decay"),
    aux_weight: float | None = typer.Option(None, "--aux-weight", help="AC-GAN loss weight."),
    d_norm: str | None = typer.Option(
        None, "--d-norm", help="Discriminator normalisation: batch, spectral or none."
    ),
    seed: int = typer.Option(0, "--seed"),
    device: str = _DEVICE_OPT,
) -> None:
    """Train a DCGAN (non-saturating loss, Adam, EMA of G); `builtin:OUT` then loads it."""
    from pathlib import Path

    from .config import GanTrainSettings
    from .train.gan import train_gan

    given = {
        "data": data,
        "conditional": conditional,
        "limit": limit,
        "steps": steps,
        "batch_size": batch_size,
        "latent_dim": latent_dim,
        "width": width,
        "lr": lr,
        "ema_decay": ema_decay,
        "aux_weight": aux_weight,
        "d_norm": d_norm,
        "seed": seed,
    }
    values = {k: v for k, v in given.items() if v is not None}
    settings = GanTrainSettings.quick(**values) if quick else GanTrainSettings(**values)
    run_dir = train_gan(settings, Path(out), device=device)
    console.print(f"generator: builtin:{run_dir}  (samples: {run_dir / 'samples.png'})")


@train_app.command("classifier")
def train_classifier_command(
    out: str = typer.Option(..., "--out", help="Run directory (rerun to resume)."),
    data: str = typer.Option("fashion-mnist:train", "--data", help="Training data spec."),
    test_data: str = typer.Option("fashion-mnist:test", "--test-data", help="Test data spec."),
    quick: bool = typer.Option(False, "--quick", help="Tiny configuration (~20 s)."),
    limit: int | None = typer.Option(None, "--limit", help="Use at most N training images."),
    epochs: int | None = typer.Option(None, "--epochs"),
    width: int | None = typer.Option(None, "--width", help="Channels of the first conv."),
    seed: int = typer.Option(0, "--seed"),
    device: str = _DEVICE_OPT,
) -> None:
    """Train the small CNN classifier whose features define ganprobe's Frechet distance."""
    import json
    from pathlib import Path

    from .config import ClassifierTrainSettings
    from .train.classifier import train_classifier

    given = {
        "data": data,
        "test_data": test_data,
        "limit": limit,
        "epochs": epochs,
        "width": width,
        "seed": seed,
    }
    values = {k: v for k, v in given.items() if v is not None}
    if quick:
        settings = ClassifierTrainSettings.quick(**values)
    else:
        settings = ClassifierTrainSettings(**values)
    run_dir = train_classifier(settings, Path(out), device=device)
    summary = json.loads((run_dir / "summary.json").read_text())
    console.print(f"classifier: {run_dir}  test accuracy {summary['test_accuracy']:.4f}")


# --- section: manifold commands (project, manifold, outliers, classify) -----------------------
_SPACE_HELP = "Latent space: z, w or w+ (w / w+ need a StyleGAN-like generator)."
_DISTANCE_HELP = "Loss minimised: l2, lpips or l2+lpips (LPIPS is then also reported)."


def _projection_settings(base, space, distance, report_lpips, restarts, steps, lr, device,
                         memory_mb, lpips_backbone):
    """ProjectionSettings from CLI options; options left at None keep `base`'s values."""
    from .config import ProjectionSettings
    from .utils import resolve_device

    updates = {"space": space, "loss": distance, "restarts": restarts, "steps": steps, "lr": lr,
               "memory_budget_mb": memory_mb, "lpips_backbone": lpips_backbone}
    values = {**base.model_dump(), **{k: v for k, v in updates.items() if v is not None}}
    values["report_lpips"] = report_lpips or values["report_lpips"]
    values["device"] = str(resolve_device(device))
    return ProjectionSettings(**values)


def _projection_options():
    """Typer options shared by project / manifold / outliers / classify (as defaults)."""
    return {
        "space": typer.Option(None, "--space", help=_SPACE_HELP),
        "distance": typer.Option(None, "--distance", help=_DISTANCE_HELP),
        "report_lpips": typer.Option(False, "--report-lpips", help="Also report LPIPS."),
        "restarts": typer.Option(None, "--restarts", help="Random restarts per image."),
        "steps": typer.Option(None, "--steps", help="Adam steps per restart."),
        "lr": typer.Option(None, "--lr", help="Peak Adam step size."),
        "device": typer.Option("cpu", "--device", help="cpu, cuda, cuda:1 or auto."),
        "memory_mb": typer.Option(None, "--memory-mb", help="Peak memory budget per chunk (MB)."),
        "lpips_backbone": typer.Option(None, "--lpips-backbone", hidden=True,
                                       help="'random' trunk: tests only."),
    }


_P = _projection_options()


@app.command("project")
def project_command(
    generator: str = typer.Option(..., "--generator", help="Generator spec (builtin:DIR, ...)."),
    data: str = typer.Option(..., "--data", help="Data spec of the images to project."),
    out: str = typer.Option(..., "--out", help="Run directory (created or resumed)."),
    limit: int = typer.Option(None, "--limit", help="Project a random subset of this size."),
    class_label: int = typer.Option(None, "--class-label",
                                    help="Fixed class for a conditional generator."),
    quick: bool = typer.Option(False, "--quick", help="Few restarts and steps (smoke runs)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickle generators."),
    space: str = _P["space"], distance: str = _P["distance"],
    report_lpips: bool = _P["report_lpips"], restarts: int = _P["restarts"],
    steps: int = _P["steps"], lr: float = _P["lr"],
    device: str = _P["device"], memory_mb: float = _P["memory_mb"],
    lpips_backbone: str = _P["lpips_backbone"],
) -> None:
    """Project images onto the generator's manifold: projection.csv, summary.json, figures."""
    from pathlib import Path

    from .config import ProjectionSettings, ProjectSettings
    from .experiments.manifold import run_project

    base = ProjectionSettings.quick() if quick else ProjectionSettings()
    projection = _projection_settings(base, space, distance, report_lpips, restarts, steps, lr,
                                      device, memory_mb, lpips_backbone)
    settings = ProjectSettings(generator=generator, data=data, limit=limit,
                               class_label=class_label, projection=projection, seed=seed,
                               trust_pickle=trust_pickle)
    summary = run_project(settings, Path(out))
    console.print(f"{data}: median rmse {summary['median_rmse']:.4f} over {summary['count']} "
                  f"images; results in {out}", highlight=False, emoji=False)


@app.command("manifold")
def manifold_command(
    generator: str = typer.Option(..., "--generator", help="Generator spec (builtin:DIR, ...)."),
    data: list[str] = typer.Option(["fashion-mnist:train", "fashion-mnist:test"], "--data",
                                   help="Data spec of a group (repeatable)."),
    out: str = typer.Option(..., "--out", help="Run directory (created or resumed)."),
    limit: int = typer.Option(None, "--limit", help="Images per data group (default 64)."),
    generated: int = typer.Option(None, "--generated", help="Generated images (default 64)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny counts and steps (smoke runs)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickle generators."),
    space: str = _P["space"], distance: str = _P["distance"],
    report_lpips: bool = _P["report_lpips"], restarts: int = _P["restarts"],
    steps: int = _P["steps"], lr: float = _P["lr"],
    device: str = _P["device"], memory_mb: float = _P["memory_mb"],
    lpips_backbone: str = _P["lpips_backbone"],
) -> None:
    """Project generated images (validity check) and each data group; histograms and grids."""
    from pathlib import Path

    from .config import ManifoldSettings
    from .experiments.manifold import run_manifold

    base = (ManifoldSettings.quick(generator) if quick else ManifoldSettings(generator=generator))
    projection = _projection_settings(base.projection, space, distance, report_lpips, restarts,
                                      steps, lr, device, memory_mb, lpips_backbone)
    updates = {"limit": limit, "generated": generated}
    settings = ManifoldSettings(**{
        **base.model_dump(), "data": data, "projection": projection, "seed": seed,
        "trust_pickle": trust_pickle, **{k: v for k, v in updates.items() if v is not None}})
    summary = run_manifold(settings, Path(out))
    for name, group in summary["groups"].items():
        console.print(f"{name}: median rmse {group['median_rmse']:.4f} (n={group['count']})",
                      highlight=False, emoji=False, markup=False)
    console.print(f"results in {out}", highlight=False, emoji=False)


@app.command("outliers")
def outliers_command(
    generator: str = typer.Option(..., "--generator", help="Generator spec (builtin:DIR, ...)."),
    in_data: str = typer.Option("fashion-mnist:test", "--in", help="In-distribution data spec."),
    ood: list[str] = typer.Option(["digits", "ood:constant", "ood:noise", "ood:vflip"], "--ood",
                                  help="OOD data spec (repeatable)."),
    train: str = typer.Option("fashion-mnist:train", "--train",
                              help="Training data: the 1-NN reference."),
    out: str = typer.Option(..., "--out", help="Run directory (created or resumed)."),
    limit: int = typer.Option(None, "--limit", help="Images per group (default 64)."),
    train_limit: int = typer.Option(None, "--train-limit", help="1-NN reference size (all)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny counts and steps (smoke runs)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickle generators."),
    space: str = _P["space"], distance: str = _P["distance"],
    report_lpips: bool = _P["report_lpips"], restarts: int = _P["restarts"],
    steps: int = _P["steps"], lr: float = _P["lr"],
    device: str = _P["device"], memory_mb: float = _P["memory_mb"],
    lpips_backbone: str = _P["lpips_backbone"],
) -> None:
    """OOD detection by projection distance vs 1-NN distance: AUROC, AUPR, FPR@95%TPR."""
    from pathlib import Path

    from .config import OutlierSettings
    from .experiments.outliers import run_outliers

    base = OutlierSettings.quick(generator) if quick else OutlierSettings(generator=generator)
    projection = _projection_settings(base.projection, space, distance, report_lpips, restarts,
                                      steps, lr, device, memory_mb, lpips_backbone)
    updates = {"limit": limit, "train_limit": train_limit}
    settings = OutlierSettings(**{
        **base.model_dump(), "in_data": in_data, "ood": ood, "train": train,
        "projection": projection, "seed": seed, "trust_pickle": trust_pickle,
        **{k: v for k, v in updates.items() if v is not None}})
    summary = run_outliers(settings, Path(out))
    for spec, methods in summary["auroc"].items():
        text = ", ".join(f"{m} {v:.3f}" for m, v in methods.items())
        console.print(f"AUROC {spec}: {text}", highlight=False, emoji=False)
    console.print(f"results in {out}", highlight=False, emoji=False)


@app.command("classify")
def classify_command(
    generator: str = typer.Option(..., "--generator",
                                  help="Class-conditional generator spec (builtin:DIR, ...)."),
    data: str = typer.Option("fashion-mnist:test", "--data", help="Labelled images to classify."),
    train: str = typer.Option("fashion-mnist:train", "--train",
                              help="Labelled training data: the 1-NN reference."),
    classifier: str = typer.Option(None, "--classifier", help="Trained classifier (run dir)."),
    out: str = typer.Option(..., "--out", help="Run directory (created or resumed)."),
    limit: int = typer.Option(None, "--limit", help="Images to classify (default 50)."),
    train_limit: int = typer.Option(None, "--train-limit", help="1-NN reference size (all)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny counts and steps (smoke runs)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickle generators."),
    space: str = _P["space"], distance: str = _P["distance"],
    report_lpips: bool = _P["report_lpips"], restarts: int = _P["restarts"],
    steps: int = _P["steps"], lr: float = _P["lr"],
    device: str = _P["device"], memory_mb: float = _P["memory_mb"],
    lpips_backbone: str = _P["lpips_backbone"],
) -> None:
    """Classify by the closest class-conditional manifold, against 1-NN and a classifier."""
    from pathlib import Path

    from .config import ClassifySettings
    from .experiments.classify import run_classify

    base = ClassifySettings.quick(generator) if quick else ClassifySettings(generator=generator)
    projection = _projection_settings(base.projection, space, distance, report_lpips, restarts,
                                      steps, lr, device, memory_mb, lpips_backbone)
    updates = {"limit": limit, "train_limit": train_limit}
    settings = ClassifySettings(**{
        **base.model_dump(), "data": data, "train": train, "classifier": classifier,
        "projection": projection, "seed": seed, "trust_pickle": trust_pickle,
        **{k: v for k, v in updates.items() if v is not None}})
    summary = run_classify(settings, Path(out))
    text = ", ".join(f"{m} {v:.3f}" for m, v in summary["accuracy"].items())
    console.print(f"accuracy on {summary['count']} images: {text}; results in {out}",
                  highlight=False, emoji=False)


# --- section: likelihood commands (likelihood, compare-density) -------------------------------
def _likelihood_fields(
    generator: str, sigma: list[float] | None, limit: int | None, sweep_limit: int | None,
    chains: int | None, temperatures: int | None, leapfrog: int | None, start: str | None,
    two_pass: bool, quick: bool, bdmc: int | None, seed: int, device: str, trust_pickle: bool,
    sweep: str | None = None,
) -> dict:
    """Fields of LikelihoodSettings from CLI options; options left at None keep the defaults
    (or the quick variant's with --quick)."""
    from .config import AISSettings

    base = AISSettings.quick() if quick else AISSettings()
    ais_updates = {"chains": chains, "temperatures": temperatures, "leapfrog": leapfrog,
                   "start": start}
    ais = {**base.model_dump(), **{k: v for k, v in ais_updates.items() if v is not None}}
    ais["two_pass"] = two_pass or ais["two_pass"]
    fields = {"generator": generator, "sigmas": list(sigma or []), "ais": AISSettings(**ais),
              "seed": seed, "device": device, "trust_pickle": trust_pickle}
    if quick:
        fields.update(sweep_points=3, sweep_limit=8, limit=16, bdmc=4)
    updates = {"limit": limit, "sweep_limit": sweep_limit, "bdmc": bdmc}
    fields.update({k: v for k, v in updates.items() if v is not None})
    if sweep is not None:
        parts = sweep.split(":")
        try:
            low, high, points = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            raise GanprobeError(
                f"--sweep {sweep!r} must be MIN:MAX:POINTS, e.g. 0.05:0.8:5"
            ) from None
        fields.update(sweep_min=low, sweep_max=high, sweep_points=points)
    return fields


def _likelihood_options():
    """Typer options shared by `likelihood` and `compare-density`."""
    return {
        "generator": typer.Option(..., "--generator", help="Generator spec (builtin:DIR, ...)."),
        "sigma": typer.Option(None, "--sigma", help="Observation noise std in model space "
                              "(repeatable); none: a geometric sweep, best on held-out data."),
        "out": typer.Option(..., "--out", help="Run directory (created or resumed)."),
        "limit": typer.Option(None, "--limit", help="Images per group (default 64)."),
        "sweep_limit": typer.Option(None, "--sweep-limit",
                                    help="Held-out images for choosing sigma (default 32)."),
        "chains": typer.Option(None, "--chains", help="AIS chains per image (default 4)."),
        "temperatures": typer.Option(None, "--temperatures",
                                     help="AIS temperatures (default 60)."),
        "leapfrog": typer.Option(None, "--leapfrog", help="Leapfrog steps per HMC trajectory."),
        "start": typer.Option(None, "--start", help="AIS start: laplace (default) or prior."),
        "two_pass": typer.Option(False, "--two-pass",
                                 help="Pilot pass adapts step sizes; measured pass freezes them."),
        "quick": typer.Option(False, "--quick", help="Cheaper AIS and fewer images."),
        "sweep": typer.Option(None, "--sweep", help="Sigma sweep MIN:MAX:POINTS (geometric; "
                              "default 0.05:0.8:5) when no --sigma is given."),
        "bdmc": typer.Option(None, "--bdmc", help="Simulated images for the BDMC gap (0: off)."),
        "seed": typer.Option(0, "--seed", help="Seed of every random choice."),
        "device": typer.Option("auto", "--device", help="cpu, cuda, cuda:1 or auto."),
        "trust_pickle": typer.Option(False, "--trust-pickle", help="Allow pickle generators."),
    }


_L = _likelihood_options()


def _print_likelihood(summary: dict, out: str) -> None:
    bdmc = summary.get("bdmc")
    gap = f"; BDMC gap {bdmc['mean_gap']:.2f} nats" if bdmc else ""
    console.print(f"best sigma {summary['best_sigma']:g}{gap}", highlight=False)
    for name, stats in summary["at_best_sigma"].items():
        console.print(f"  {name}: mean log_px {stats['mean_log_px']:.1f} nats, "
                      f"{stats['mean_bpd']:.3f} bpd", highlight=False)
    console.print(f"results in {out}", highlight=False)


@app.command("likelihood")
def likelihood_command(
    generator: str = _L["generator"],
    data: list[str] = typer.Option(..., "--data", help="Data spec (repeatable); the first is "
                                   "the in-distribution test set, sigma is chosen on it."),
    sigma: list[float] = _L["sigma"], out: str = _L["out"], limit: int = _L["limit"],
    sweep_limit: int = _L["sweep_limit"], chains: int = _L["chains"],
    temperatures: int = _L["temperatures"], leapfrog: int = _L["leapfrog"],
    start: str = _L["start"], two_pass: bool = _L["two_pass"], quick: bool = _L["quick"],
    sweep: str = _L["sweep"], bdmc: int = _L["bdmc"], seed: int = _L["seed"],
    device: str = _L["device"], trust_pickle: bool = _L["trust_pickle"],
) -> None:
    """AIS log p(x) of image groups under generator + N(0, sigma^2 I): likelihood.csv,
    summary.json (best sigma, BDMC gap, OOD AUROC), bpd_vs_sigma.png, bpd_histograms.png."""
    from pathlib import Path

    from .config import LikelihoodSettings
    from .experiments.likelihood import run_likelihood

    fields = _likelihood_fields(generator, sigma, limit, sweep_limit, chains, temperatures,
                                leapfrog, start, two_pass, quick, bdmc, seed, device,
                                trust_pickle, sweep)
    summary = run_likelihood(LikelihoodSettings(data=list(data), **fields), Path(out))
    _print_likelihood(summary, out)


@app.command("compare-density")
def compare_density_command(
    generator: str = _L["generator"],
    density: list[str] = typer.Option(..., "--density", help="Density model spec "
                                      "(density:RUN_DIR, repeatable)."),
    in_spec: str = typer.Option(..., "--in", help="In-distribution test data spec."),
    ood: list[str] = typer.Option([], "--ood", help="OOD data spec (repeatable)."),
    sweep_from: str = typer.Option(None, "--sweep-from", help="A `likelihood` run dir whose "
                                   "sigma sweep is plotted beside the baselines."),
    sigma: list[float] = _L["sigma"], out: str = _L["out"], limit: int = _L["limit"],
    sweep_limit: int = _L["sweep_limit"], chains: int = _L["chains"],
    temperatures: int = _L["temperatures"], leapfrog: int = _L["leapfrog"],
    start: str = _L["start"], two_pass: bool = _L["two_pass"], quick: bool = _L["quick"],
    sweep: str = _L["sweep"], bdmc: int = _L["bdmc"], seed: int = _L["seed"],
    device: str = _L["device"], trust_pickle: bool = _L["trust_pickle"],
) -> None:
    """The GAN at its best sigma beside non-GAN density models: bpd_table.csv, OOD AUROC of
    -log_px per model, BDMC gap, figures."""
    from pathlib import Path

    from .config import CompareDensitySettings
    from .experiments.likelihood import run_compare_density

    fields = _likelihood_fields(generator, sigma, limit, sweep_limit, chains, temperatures,
                                leapfrog, start, two_pass, quick, bdmc, seed, device,
                                trust_pickle, sweep)
    settings = CompareDensitySettings(data=[in_spec, *ood], densities=list(density),
                                      sweep_from=sweep_from, **fields)
    summary = run_compare_density(settings, Path(out))
    _print_likelihood(summary, out)
    for row in summary["table"]:
        console.print(f"  {row['model']:>12} {row['group']}: {row['mean_bpd']:.3f} bpd",
                      highlight=False)


# --- section: density commands (train density) ------------------------------------------------


@train_app.command("density")
def train_density_command(
    model: str = typer.Option(..., "--model", help="gaussian | ppca | vae | flow"),
    out: str = typer.Option(..., "--out", help="Run directory (rerun to resume)."),
    data: str = typer.Option("fashion-mnist:train", "--data", help="Training data spec."),
    test_data: str = typer.Option(
        "fashion-mnist:test", "--test-data", help="Test data spec ('none' to skip)."
    ),
    quick: bool = typer.Option(False, "--quick", help="Small configuration (about a minute)."),
    limit: int | None = typer.Option(None, "--limit", help="Use at most N training images."),
    test_limit: int | None = typer.Option(None, "--test-limit", help="Test images scored."),
    steps: int | None = typer.Option(None, "--steps", help="Optimizer steps (vae, flow)."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Batch size (vae, flow)."),
    lr: float | None = typer.Option(None, "--lr", help="Adam learning rate (vae, flow)."),
    ridge: float | None = typer.Option(
        None, "--ridge", help="Gaussian covariance ridge (default: chosen on held-out data)."
    ),
    ppca_rank: int | None = typer.Option(None, "--ppca-rank", help="PPCA latent dimension q."),
    latent_dim: int | None = typer.Option(None, "--latent-dim", help="VAE latent dimension."),
    fixed_sigma: float | None = typer.Option(
        None, "--fixed-sigma", help="VAE decoder std, fixed (default: learned)."
    ),
    iwae_samples: int | None = typer.Option(None, "--iwae-samples", help="IWAE samples k."),
    ais_limit: int | None = typer.Option(None, "--ais-limit", help="Images scored by AIS (vae)."),
    chains: int | None = typer.Option(None, "--chains", help="AIS chains per image (vae)."),
    temperatures: int | None = typer.Option(None, "--temperatures", help="AIS temperatures."),
    transforms: int | None = typer.Option(None, "--transforms", help="Flow: MAF transforms."),
    hidden: int | None = typer.Option(None, "--hidden", help="Flow: hidden units per layer."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda, cuda:1, ..."),
) -> None:
    """Train a non-GAN density baseline on dequantized data; `density:OUT` then loads it."""
    import json
    from pathlib import Path

    from .config import DensityTrainSettings
    from .train.density import train_density

    given = {
        "data": data,
        "test_data": None if test_data.lower() == "none" else test_data,
        "limit": limit,
        "test_limit": test_limit,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "gaussian_ridge": ridge,
        "ppca_rank": ppca_rank,
        "vae_latent_dim": latent_dim,
        "iwae_samples": iwae_samples,
        "ais_limit": ais_limit,
        "flow_transforms": transforms,
        "flow_hidden": hidden,
        "seed": seed,
        "device": device,
    }
    if fixed_sigma is not None:
        given.update(vae_sigma=fixed_sigma, vae_calibrated_sigma=False)
    values = {k: v for k, v in given.items() if v is not None}
    values["test_data"] = given["test_data"]
    base = DensityTrainSettings.quick(model) if quick else DensityTrainSettings(model=model)
    if chains is not None or temperatures is not None:
        ais = {"chains": chains, "temperatures": temperatures}
        values["ais"] = {**base.ais.model_dump(), **{k: v for k, v in ais.items() if v is not None}}
    settings = DensityTrainSettings(**{**base.model_dump(), **values})
    run_dir = train_density(settings, Path(out))
    summary = json.loads((run_dir / "summary.json").read_text())
    bpd = ", ".join(f"{g} {s['bpd']:.3f}" for g, s in summary["groups"].items())
    console.print(f"density model: density:{run_dir}  bpd ({bpd})")

# --- section: typicality, report, demo --------------------------------------------------------


@app.command("typicality")
def typicality_command(
    generator: str = typer.Option(..., "--generator", help="Generator spec (builtin:DIR, ...)."),
    sigma: float = typer.Option(..., "--sigma", help="Observation noise std (model space)."),
    data: list[str] = typer.Option(..., "--data", help="Data spec of a group (repeatable)."),
    out: str = typer.Option(..., "--out", help="Run directory (created or resumed)."),
    samples: int = typer.Option(128, "--samples", help="Model samples defining the typical set."),
    limit: int = typer.Option(64, "--limit", help="Images per data group."),
    level: float = typer.Option(0.99, "--level", help="Fraction of samples in the typical band."),
    batch_size: list[int] = typer.Option([1, 8], "--batch-size", help="Test batch sizes M."),
    alpha: float = typer.Option(0.01, "--alpha", help="Level of the typicality test."),
    chains: int = typer.Option(8, "--chains", help="AIS chains per image."),
    temperatures: int = typer.Option(100, "--temperatures", help="AIS temperatures."),
    latent_view: bool = typer.Option(True, "--latent-view/--no-latent-view",
                                     help="Project images and test latent norms vs chi."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickle generators."),
) -> None:
    """Are the data groups in the typical set of the generator's density p_sigma?"""
    from pathlib import Path

    from .config import AISSettings, TypicalitySettings
    from .experiments.typicality import run_typicality

    settings = TypicalitySettings(
        generator=generator, sigma=sigma, data=data, samples=samples, limit=limit, level=level,
        batch_sizes=batch_size, alpha=alpha,
        ais=AISSettings(chains=chains, temperatures=temperatures), latent_view=latent_view,
        seed=seed, device=device, trust_pickle=trust_pickle,
    )
    summary = run_typicality(settings, Path(out))
    for name, group in summary["groups"].items():
        console.print(
            f"{name}: {group['fraction_typical']:.1%} typical, KS p = {group['ks_pvalue']:.3g}",
            highlight=False,
        )
    console.print(f"results in {out}", highlight=False)


@app.command("report")
def report_command(
    run_dir: str = typer.Argument(..., help="A demo directory or an analysis run directory."),
) -> None:
    """Write report.html (self-contained) and report.md from a run's stored results."""
    from .report import write_report

    html_path, md_path = write_report(run_dir)
    console.print(f"wrote {html_path} and {md_path}", highlight=False)


@app.command("demo")
def demo_command(
    out: str = typer.Option("runs/demo", "--out", help="Demo directory (created or resumed)."),
    quick: bool = typer.Option(False, "--quick", help="Tiny settings everywhere (minutes)."),
    seed: int = typer.Option(0, "--seed", help="Seed of every model and stage."),
) -> None:
    """The whole study on the built-in default (Fashion-MNIST): train or reuse the models, run
    every analysis, write the report. Killed at any point, the same command resumes."""
    from pathlib import Path

    from .config import DemoSettings
    from .experiments.demo import run_demo

    summary = run_demo(DemoSettings(quick=quick, seed=seed), Path(out))
    console.print(f"report: {summary['report']}", highlight=False)


if __name__ == "__main__":
    main()
