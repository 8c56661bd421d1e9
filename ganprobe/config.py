"""Pydantic models for every command's settings.

Each command builds its settings object from CLI options; invalid values fail with a one-line
error (see `format_validation_error`). The settings object, dumped to JSON, is the run's config
and defines its hash (see store.py).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_serializer,
)


class Settings(BaseModel):
    """Base for all settings: unknown fields are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def format_validation_error(exc: ValidationError) -> str:
    """One line: 'invalid <field>: <reason> (got <value>)' for the first error, '+N more'."""
    errors = exc.errors()
    first = errors[0]
    loc = ".".join(str(p) for p in first["loc"]) or exc.title
    line = f"invalid {loc}: {first['msg']}"
    if "input" in first and not isinstance(first["input"], dict):
        line += f" (got {first['input']!r})"
    if len(errors) > 1:
        line += f" (+{len(errors) - 1} more)"
    return line


# --- section: data settings ------------------------------------------------------------------


def check_data_spec(spec: str) -> str:
    """Pydantic validator for a data spec string: checks its syntax (files are not opened) and
    raises ganprobe.errors.DataError listing the valid specs when it is unknown. Use as
    `data: DataSpec = "fashion-mnist:test"` or `field_validator(...)(check_data_spec)`."""
    from .data.specs import parse_spec  # lazy: keeps `ganprobe --help` free of torch

    parse_spec(spec)
    return spec


DataSpec = Annotated[str, AfterValidator(check_data_spec)]


class DataSettings(Settings):
    """Which images a command reads: `spec` (see `ganprobe data list`), a deterministic subset
    of `limit` images chosen by `seed`, `strict` (corrupt files are errors, not skipped) and an
    optional target `shape` (C, H, W) the images are adapted to."""

    spec: DataSpec = "fashion-mnist:test"
    limit: int | None = Field(None, ge=1, description="at most this many images (None: all)")
    seed: int = Field(0, ge=0, description="fixes the subset and synthetic OOD images")
    strict: bool = False
    shape: tuple[Literal[1, 3], Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] | None = (
        Field(None, description="target (C, H, W), C 1 or 3")
    )

    def load(self):  # -> ganprobe.data.ImageSet (not imported here: keeps the CLI light)
        """Load the images: `ganprobe.data.load_images` with these settings."""
        from .data import load_images

        return load_images(self.spec, self.limit, self.seed, self.strict, self.shape)


# --- section: model / training settings ------------------------------------------------------


class GanTrainSettings(Settings):
    """`ganprobe train gan`: a DCGAN (ganprobe.models.dcgan) trained with the non-saturating
    loss, Adam and an EMA of the generator. Defaults are the default study (Fashion-MNIST,
    ~5.3 epochs, about 5 minutes on 2 CPU cores); `GanTrainSettings.quick()` is the demo's quick
    variant. The device is an argument of `train_gan`, not a setting (it does not change the
    model, so it must not change the cache hash)."""

    data: str = "fashion-mnist:train"
    limit: int | None = Field(None, ge=1, description="use at most this many training images")
    conditional: bool = Field(False, description="class-conditional generator (needs labels)")
    latent_dim: int = Field(64, ge=1)
    width: int = Field(16, ge=1, description="channels at full resolution")
    embed_dim: int = Field(16, ge=1, description="class embedding size (conditional)")
    d_norm: Literal["batch", "spectral", "none"] = Field(
        "batch", description="discriminator normalisation (see DCGANConfig)"
    )
    steps: int = Field(5000, ge=1, description="generator updates (one D update each)")
    batch_size: int = Field(64, ge=2)
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    ema_decay: float = Field(0.999, ge=0, lt=1, description="EMA of G's weights per step")
    aux_weight: float = Field(1.0, ge=0, description="AC-GAN class loss weight (conditional)")
    checkpoint_every: int = Field(250, ge=1, description="steps between checkpoints")
    sample_every: int = Field(500, ge=1, description="steps between sample grids")
    seed: int = 0

    @model_serializer(mode="wrap")
    def _omit_default_d_norm(self, handler):  # type: ignore[no-untyped-def]
        """d_norm is left out of the dump at its default, so runs (and cache entries) made
        before the option existed keep their config hash."""
        data = handler(self)
        if data.get("d_norm") == "batch":
            data.pop("d_norm")
        return data

    @classmethod
    def quick(cls, **overrides: object) -> GanTrainSettings:
        """A tiny configuration (~30 s on 2 CPU cores) for quick demos and smoke tests."""
        values: dict[str, object] = {"steps": 300, "limit": 10000}
        values.update(overrides)
        return cls(**values)


class ClassifierTrainSettings(Settings):
    """`ganprobe train classifier`: a small CNN (ganprobe.models.classifier) trained with Adam
    and cross-entropy; its penultimate features define ganprobe's Frechet distance. The device
    is an argument of the training function, not a setting (it does not change the model).
    Defaults are the default study (Fashion-MNIST); `ClassifierTrainSettings.quick()` is the
    quick variant."""

    data: str = "fashion-mnist:train"
    test_data: str = "fashion-mnist:test"
    limit: int | None = Field(None, ge=1, description="use at most this many training images")
    width: int = Field(32, ge=1, description="channels of the first conv layer")
    feature_dim: int = Field(128, ge=2, description="size of the penultimate feature layer")
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(128, ge=2)
    lr: float = Field(1e-3, gt=0)
    seed: int = 0

    @classmethod
    def quick(cls, **overrides: object) -> ClassifierTrainSettings:
        """A tiny configuration (~20 s on 2 CPU cores) for quick demos and smoke tests."""
        values: dict[str, object] = {"epochs": 1, "limit": 10000, "width": 16}
        values.update(overrides)
        return cls(**values)


class QualitySettings(Settings):
    """`ganprobe models quality`: Frechet distance in the classifier's feature space between
    generator samples and data, the same distance between train and test data (the floor), and
    for conditional generators the classifier's accuracy on each class's samples."""

    generator: str
    data: str = "fashion-mnist:test"
    reference: str = Field("fashion-mnist:train", description="data for the train-vs-test floor")
    classifier: str | None = Field(None, description="classifier run dir (default: train one)")
    samples: int = Field(5000, ge=2, description="generator samples (and data images) compared")
    batch_size: int = Field(250, ge=1)
    trust_pickle: bool = False
    seed: int = 0
    device: str = "cpu"

# --- section: projection / manifold settings -------------------------------------------------
class ProjectionSettings(Settings):
    """Projection onto a generator's manifold (ganprobe.inference.projection).

    loss: what Adam minimises per image — 'l2' (sum of squared differences), 'lpips', or
    'l2+lpips' (mean squared difference + lpips_weight * LPIPS). l2 and rmse are always reported;
    LPIPS is reported too when the loss uses it or report_lpips is set. tolerance: an image stops
    once its rmse (LPIPS for loss 'lpips') is below it. lr schedule: linear warm-up over
    warmup_fraction of the steps, then cosine decay to final_lr_fraction * lr. prior_weight:
    weight of the penalty -log p(z) (space 'z' only). lr: peak step size (default: see
    `step_size`). memory_budget_mb bounds one chunk's estimated peak memory; max_chunk_images
    caps a chunk's image count. Defaults (1 restart x 3000 steps at peak 0.5 in z) were measured
    on the default DCGAN (docs/results.md): long runs matter far more than restarts, and
    generated images stop early once they reach `tolerance`.
    """

    space: Literal["z", "w", "w+"] = "z"
    loss: Literal["l2", "lpips", "l2+lpips"] = "l2"
    lpips_weight: float = Field(1.0, ge=0)
    report_lpips: bool = False
    lpips_net: Literal["alex", "vgg"] = "alex"
    lpips_backbone: Literal["imagenet", "random"] = "imagenet"
    restarts: int = Field(1, ge=1)
    steps: int = Field(3000, ge=1)
    lr: float | None = Field(None, gt=0)
    warmup_fraction: float = Field(0.05, ge=0, lt=1)
    final_lr_fraction: float = Field(0.01, ge=0, le=1)
    prior_weight: float = Field(0.0, ge=0)
    tolerance: float = Field(1e-3, ge=0)
    memory_budget_mb: float = Field(1024.0, gt=0)
    max_chunk_images: int | None = Field(None, ge=1)
    device: str = "cpu"

    @property
    def step_size(self) -> float:
        """Peak Adam step size: lr, else 0.5 in z (z ~ N(0, I), |z| ~ sqrt(d): latents travel
        far; measured best on the built-in DCGAN, see docs/results.md) and 0.1 in w / w+
        (StyleGAN's projector)."""
        if self.lr is not None:
            return self.lr
        return 0.5 if self.space == "z" else 0.1

    @property
    def uses_lpips(self) -> bool:
        """Whether LPIPS is optimised or reported."""
        return self.loss != "l2" or self.report_lpips

    @classmethod
    def quick(cls, **overrides: object) -> ProjectionSettings:
        """One restart x 300 steps at peak 1.0, for smoke runs and the demo's --quick mode
        (generated images of the quick DCGAN reach median rmse ~0.01; docs/results.md)."""
        return cls(**{"restarts": 1, "steps": 300, "lr": 1.0, **overrides})


class ProjectSettings(Settings):
    """`ganprobe project`: project `limit` images of one data spec. class_label: fixed class for
    a conditional generator (default: the data's labels, else the closest class). Like every
    projection run it projects `validity_count` images generated by G itself first: their
    median rmse must stay under `validity_threshold`, or the run warns that the projection is
    too weak for any conclusion."""

    generator: str
    data: str
    limit: int | None = Field(None, ge=1)
    class_label: int | None = Field(None, ge=0)
    projection: ProjectionSettings = Field(default_factory=ProjectionSettings)
    shard_size: int = Field(50, ge=1)
    grid_count: int = Field(8, ge=1)
    validity_count: int = Field(16, ge=1, description="generated images of the validity check")
    validity_threshold: float = Field(
        0.05, gt=0, description="max median rmse of projected generated images"
    )
    trust_pickle: bool = False
    backend: Literal["local", "ray"] = "local"
    seed: int = 0


class ManifoldSettings(Settings):
    """`ganprobe manifold`: project `generated` images drawn from G (validity check) and `limit`
    images of every data spec; seed fixes the generated latents, image subsets and restarts."""

    generator: str
    data: list[str] = Field(default_factory=lambda: ["fashion-mnist:train", "fashion-mnist:test"])
    limit: int | None = Field(64, ge=1)
    generated: int = Field(64, ge=1)
    projection: ProjectionSettings = Field(default_factory=ProjectionSettings)
    shard_size: int = Field(50, ge=1)
    grid_count: int = Field(8, ge=1)
    validity_threshold: float = Field(0.05, gt=0)
    trust_pickle: bool = False
    backend: Literal["local", "ray"] = "local"
    seed: int = 0

    @classmethod
    def quick(cls, generator: str, **overrides: object) -> ManifoldSettings:
        return cls(**{"generator": generator, "limit": 16, "generated": 16,
                      "projection": ProjectionSettings.quick(), "shard_size": 16, **overrides})


class OutlierSettings(Settings):
    """`ganprobe outliers`: projection distance and 1-NN distance to `train` as OOD scores for
    `limit` images of `in_data` and of each `ood` spec. train_limit: reference images for 1-NN
    (None = all). validity_count / validity_threshold: the validity check (ProjectSettings)."""

    generator: str
    in_data: str = "fashion-mnist:test"
    ood: list[str] = Field(
        default_factory=lambda: ["digits", "ood:constant", "ood:noise", "ood:vflip"]
    )
    train: str = "fashion-mnist:train"
    limit: int | None = Field(64, ge=1)
    train_limit: int | None = Field(None, ge=1)
    projection: ProjectionSettings = Field(default_factory=ProjectionSettings)
    nn_memory_budget_mb: float = Field(512.0, gt=0)
    shard_size: int = Field(50, ge=1)
    validity_count: int = Field(16, ge=1, description="generated images of the validity check")
    validity_threshold: float = Field(
        0.05, gt=0, description="max median rmse of projected generated images"
    )
    trust_pickle: bool = False
    backend: Literal["local", "ray"] = "local"
    seed: int = 0

    @classmethod
    def quick(cls, generator: str, **overrides: object) -> OutlierSettings:
        return cls(**{"generator": generator, "limit": 16, "train_limit": 2000,
                      "projection": ProjectionSettings.quick(), "shard_size": 16,
                      **overrides})


class ClassifySettings(Settings):
    """`ganprobe classify`: predict argmin over classes c of d_c(x) with a class-conditional
    generator, for `limit` images of `data`; baselines 1-NN to `train` and `classifier`. The
    projection default (1 restart x 500 steps at peak 1.0) brings generated images of the
    default conditional DCGAN to median rmse ~0.02 (docs/results.md); every (image, class) pair
    costs one projection. validity_count / validity_threshold: the validity check (generated
    images projected under their own class; see ProjectSettings)."""

    generator: str
    data: str = "fashion-mnist:test"
    train: str = "fashion-mnist:train"
    classifier: str | None = None
    limit: int | None = Field(50, ge=1)
    train_limit: int | None = Field(None, ge=1)
    projection: ProjectionSettings = Field(
        default_factory=lambda: ProjectionSettings(restarts=1, steps=500, lr=1.0)
    )
    nn_memory_budget_mb: float = Field(512.0, gt=0)
    shard_size: int = Field(20, ge=1)
    validity_count: int = Field(16, ge=1, description="generated images of the validity check")
    validity_threshold: float = Field(
        0.05, gt=0, description="max median rmse of projected generated images"
    )
    trust_pickle: bool = False
    backend: Literal["local", "ray"] = "local"
    seed: int = 0

    @classmethod
    def quick(cls, generator: str, **overrides: object) -> ClassifySettings:
        return cls(**{"generator": generator, "limit": 10, "train_limit": 2000,
                      "projection": ProjectionSettings.quick(), "shard_size": 10,
                      **overrides})


# --- section: likelihood settings ------------------------------------------------------------
class AISSettings(Settings):
    """Annealed importance sampling of log p_sigma(x) (see ganprobe.inference.ais).

    chains: K chains per image; temperatures: T annealing steps (T + 1 betas from 0 to 1 on a
    sigmoid schedule of steepness `schedule_delta`); leapfrog: L leapfrog steps per HMC
    trajectory (one trajectory per intermediate temperature); step_size: initial leapfrog step
    (latent units), adapted per chain toward `target_acceptance` and clipped to
    [step_size_min, step_size_max]; two_pass: a pilot pass adapts and stores the step sizes per
    temperature, the measured pass reuses them frozen. start: 'laplace' anneals from a Gaussian
    around the posterior mode (found by `mode_steps` Adam steps of rate `mode_lr` from
    `mode_restarts` prior draws; covariance = inverse Hessian, eigenvalues of the precision
    floored at `precision_floor`, scaled by `laplace_scale`^2; with laplace_components > 1 a
    mixture over the best restarts' modes, weighted by Laplace evidence), 'prior' from p(z).
    """

    chains: int = Field(4, ge=1)
    temperatures: int = Field(60, ge=1)
    leapfrog: int = Field(4, ge=1)
    step_size: float = Field(0.05, gt=0)
    step_size_min: float = Field(1e-4, gt=0)
    step_size_max: float = Field(0.5, gt=0)
    target_acceptance: float = Field(0.65, gt=0, lt=1)
    adapt_rate: float = Field(0.5, ge=0)
    schedule_delta: float = Field(4.0, gt=0)
    two_pass: bool = False
    start: Literal["laplace", "prior"] = "laplace"
    mode_steps: int = Field(150, ge=0)
    mode_lr: float = Field(0.1, gt=0)
    mode_restarts: int = Field(8, ge=1)
    precision_floor: float = Field(0.5, gt=0)
    laplace_scale: float = Field(1.0, gt=0)
    laplace_components: int = Field(4, ge=1)

    @classmethod
    def quick(cls) -> AISSettings:
        """A cheaper variant for `--quick` runs (about 3x less compute than the defaults)."""
        return cls(chains=2, temperatures=40, leapfrog=3, mode_steps=80, mode_restarts=4,
                   laplace_components=2)


class LikelihoodSettings(Settings):
    """`ganprobe likelihood`: AIS log_px of image groups under a generator + N(0, sigma^2 I).

    generator: generator spec; data: data specs, the first is the in-distribution held-out set
    (a test split) on which sigma is chosen when `sigmas` is empty: a geometric sweep of
    `sweep_points` values from `sweep_min` to `sweep_max` on `sweep_limit` images disjoint from
    the `limit` evaluated ones, keeping the sigma with the highest mean log_px. bdmc: number of
    simulated images (x = G(z) + sigma eps) for the BDMC gap at each evaluated sigma (0: off).
    shard_size: images per stored shard (resume unit); device: 'auto', 'cpu', 'cuda', ...
    """

    generator: str
    data: list[str] = Field(min_length=1)
    sigmas: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)
    sweep_min: float = Field(0.05, gt=0)
    sweep_max: float = Field(0.8, gt=0)
    sweep_points: int = Field(5, ge=2)
    sweep_limit: int = Field(32, ge=1)
    sweep_extend: int = Field(
        3, ge=0, description="extra sigmas scored beyond an edge where the maximum sits"
    )
    limit: int | None = Field(64, ge=1)
    bdmc: int = Field(16, ge=0)
    ais: AISSettings = Field(default_factory=AISSettings)
    shard_size: int = Field(16, ge=1)
    seed: int = 0
    device: str = "auto"
    trust_pickle: bool = False


class CompareDensitySettings(LikelihoodSettings):
    """`ganprobe compare-density`: the GAN at its best sigma beside non-GAN density models.

    densities: density specs (`density:RUN_DIR`); data[0] is the in-distribution test set
    (`--in`), data[1:] the OOD sets (`--ood`). sweep_from: the directory of an earlier
    `likelihood` run whose held-out sigma sweep is drawn (with the baselines) in
    bpd_vs_sigma.png when this run evaluates a single sigma.
    """

    densities: list[str] = Field(default_factory=list)
    sweep_from: str | None = None  # a `likelihood` run dir whose held-out sweep is plotted


# --- section: density settings ---------------------------------------------------------------

DensityModelName = Literal["gaussian", "ppca", "vae", "flow"]


class DensityTrainSettings(Settings):
    """Training of one non-GAN density baseline (`ganprobe train density`).

    Defaults are the default study (Fashion-MNIST, sized for a 2-core CPU). Every model is
    trained on dequantized data (x + U(-1/255, 1/255) per value, one 8-bit level in model space)
    and reports bpd of dequantized train / test images. Fields prefixed with a model name apply
    to that model only; `steps` is the number of optimizer steps of the iterative models.
    """

    model: DensityModelName = "gaussian"
    data: str = "fashion-mnist:train"
    test_data: str | None = "fashion-mnist:test"
    limit: int | None = Field(None, ge=2, description="training images (None: all)")
    test_limit: int | None = Field(None, ge=1, description="test images scored (None: all)")
    train_eval_limit: int = Field(10000, ge=1, description="training images scored")
    seed: int = 0
    dequantize: bool = True
    device: str = "cpu"
    # gaussian: ridge added to the covariance (model-space variance); None = the best of a
    # geometric grid by log-likelihood of a held-out 10% of the training images
    gaussian_ridge: float | None = Field(None, ge=0.0)
    # ppca: number of principal directions q
    ppca_rank: int = Field(64, ge=1)
    # iterative models (vae, flow)
    steps: int | None = Field(None, ge=1, description="None: vae_steps / flow_steps")
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    checkpoint_every: int = Field(200, ge=1)
    # vae: Gaussian decoder N(x; decoder(z), sigma^2 I), sigma one scalar (model space), by
    # default calibrated: set to its ELBO optimum per batch and over the training images at the
    # end (ganprobe.models.density.vae); vae_calibrated_sigma=False keeps it at vae_sigma
    vae_architecture: Literal["conv", "linear"] = "conv"
    vae_latent_dim: int = Field(32, ge=1)
    vae_channels: int = Field(32, ge=1)
    vae_calibrated_sigma: bool = True
    vae_sigma_per_pixel: bool = Field(True, description="one decoder std per pixel, else one")
    vae_sigma: float = Field(0.1, gt=0.0, description="initial (or fixed) decoder std")
    vae_steps: int = Field(1500, ge=1)
    iwae_samples: int = Field(64, ge=1)
    iwae_limit: int | None = Field(1000, ge=1, description="images per group for ELBO, IWAE")
    ais_limit: int | None = Field(50, ge=1, description="images per group scored by AIS")
    ais: AISSettings = Field(default_factory=AISSettings, description="VAE log_px by AIS")
    # flow: zuko MAF over the logit of the dequantized image
    flow_transforms: int = Field(5, ge=1)
    flow_hidden: int = Field(512, ge=1)
    flow_hidden_layers: int = Field(1, ge=1)
    flow_alpha: float = Field(1e-6, gt=0.0, lt=0.5)
    flow_steps: int = Field(1000, ge=1)

    @property
    def train_steps(self) -> int:
        """Optimizer steps of the chosen iterative model (`steps` overrides the per-model one)."""
        if self.steps is not None:
            return self.steps
        return self.vae_steps if self.model == "vae" else self.flow_steps

    @classmethod
    def quick(cls, model: DensityModelName, **overrides: object) -> DensityTrainSettings:
        """Small settings for the demo's --quick mode and smoke tests (about a minute each)."""
        values: dict[str, object] = {
            "model": model,
            "limit": 5000,
            "test_limit": 1000,
            "vae_steps": 300,
            "flow_steps": 200,
            "flow_transforms": 3,
            "flow_hidden": 256,
            "iwae_limit": 200,
            "iwae_samples": 16,
            "ais_limit": 20,
            "ais": AISSettings.quick(),
            "ppca_rank": 32,
        }
        values.update(overrides)
        return cls(**values)

# --- section: typicality / demo settings -----------------------------------------------------


class TypicalitySettings(Settings):
    """`ganprobe typicality`: is each data group in the typical set of p_sigma?

    `samples` draws x = G(z) + sigma * eps (z ~ prior) get AIS log_px (settings `ais`): their
    distribution defines the entropy estimate and the epsilon-typical band holding `level` of
    them (band 'symmetric': |-log_px - H| <= eps; 'quantile': equal-tailed). Each data spec in
    `data` (at most `limit` images each) gets AIS log_px, the fraction inside the band, the
    Nalisnick et al. (2019) test for each batch size M in `batch_sizes` (bootstrap threshold at
    level `alpha` from `bootstrap` resampled batches) and a KS test against the samples.
    Latent view (`latent_view`): the norms of projected latents of `latent_limit` images per group
    against chi(latent_dim), projected with the settings `projection`.
    The generator must be unconditional (p_sigma(x) of a conditional one needs p(c)).
    """

    generator: str
    sigma: float = Field(gt=0, description="observation noise std in model space")
    data: list[str] = Field(min_length=1)
    samples: int = Field(128, ge=2, description="model samples defining the typical set")
    limit: int | None = Field(64, ge=1, description="images per data group")
    level: float = Field(0.99, gt=0, lt=1)
    band: Literal["symmetric", "quantile"] = "symmetric"
    batch_sizes: list[int] = Field(default_factory=lambda: [1, 8], min_length=1)
    alpha: float = Field(0.01, gt=0, lt=1)
    bootstrap: int = Field(2000, ge=1)
    ais: AISSettings = Field(default_factory=AISSettings)
    latent_view: bool = True
    latent_limit: int = Field(64, ge=2)
    projection: ProjectionSettings = Field(default_factory=ProjectionSettings)
    shard_size: int = Field(16, ge=1)
    seed: int = 0
    device: str = "auto"
    trust_pickle: bool = False


class DemoSettings(Settings):
    """`ganprobe demo`: the whole study on the built-in default (Fashion-MNIST).

    quick: tiny settings everywhere (minutes); seed: seeds every stage and model. The stage
    settings are derived from these two fields (ganprobe.experiments.demo.analysis_settings).
    """

    quick: bool = False
    seed: int = 0
