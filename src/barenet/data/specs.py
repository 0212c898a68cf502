"""What is known about each dataset: file names, checksums, mirrors, classes and statistics.

sha256 values are of the *decompressed* IDX bytes (the same for every copy, however it was
compressed); md5 values are of the official .gz files, checked only on a fresh download.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError

TRAIN_IMAGES, TRAIN_LABELS = "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"
TEST_IMAGES, TEST_LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"
SPLITS = ("train", "test")
DATA_ENV = "BARENET_DATA"
#: How a user's picture is made to look like the dataset's images (``data/images``): "digit"
#: (MNIST: fitted into 20x20, centred by mass) or "clothing" (Fashion-MNIST: fills the frame).
PICTURE_STYLES = ("digit", "clothing")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything known about one dataset: files and checksums, mirrors, classes, statistics,
    image size and channels, images per split and the style users' pictures are drawn in.

    ``sha256`` maps each file name to the sha256 of its decompressed bytes; ``md5`` to the md5 of
    the official .gz (checked only on download). ``mean``/``std`` are the training-set mean and
    standard deviation of pixel/255. Images are uint8 (N, *image_size) with ``channels``
    channels (1: IDX images are gray); ``train_count``/``test_count`` images per split;
    ``picture_style`` is one of ``PICTURE_STYLES``. An empty ``mirrors`` means the files are
    only ever read from a folder (``--data-dir``).
    """

    name: str
    classes: tuple[str, ...]
    mean: float
    std: float
    sha256: dict[str, str]
    md5: dict[str, str]
    mirrors: tuple[str, ...]
    local_dirs: tuple[str, ...] = ()
    embedded: str | None = None
    image_size: tuple[int, int] = (28, 28)
    splits: dict[str, tuple[str, str]] = field(default_factory=lambda: {
        "train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)})
    channels: int = 1
    train_count: int = 60_000
    test_count: int = 10_000
    picture_style: str = "digit"

    def files(self) -> list[str]:
        """All file names, train before test, images before labels."""
        return [f for split in SPLITS for f in self.splits[split]]

    @property
    def num_classes(self) -> int:
        """How many classes the labels 0..num_classes-1 stand for (``len(classes)``)."""
        return len(self.classes)

    @property
    def counts(self) -> dict[str, int]:
        """Images per split, e.g. ``{"train": 60000, "test": 10000}``."""
        return {"train": self.train_count, "test": self.test_count}

    @property
    def input_facts(self) -> dict[str, int]:
        """What a preset needs to fit this dataset: ``{"num_classes": K, "image_size": S}``
        (S the side of the square images; a model's input is (S*S,) or (channels, S, S))."""
        return {"num_classes": self.num_classes, "image_size": int(self.image_size[0])}


SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        classes=tuple(str(d) for d in range(10)),
        mean=0.1307, std=0.3081,
        sha256={
            TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        },
        md5={
            TRAIN_IMAGES: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            TRAIN_LABELS: "d53e105ee54ea40749a09fcbcd1e9432",
            TEST_IMAGES: "9fb629c4189551a2d022fa330f9573f3",
            TEST_LABELS: "ec29112dd5afa0611ce80d1b7f02629c",
        },
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        embedded="_data/mnist",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        mean=0.2860, std=0.3530,
        sha256={
            TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
        md5={
            TRAIN_IMAGES: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            TRAIN_LABELS: "25c81989df183df01b3e8a0aad5dffbe",
            TEST_IMAGES: "bef4ecab320f06d8554ea6380940ec79",
            TEST_LABELS: "bb300cfdad3c16e7a12a480ee83cd310",
        },
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        local_dirs=("/usr/share/datasets/fashion-mnist",),
        picture_style="clothing",
    ),
}
DATASET_NAMES: tuple[str, ...] = tuple(SPECS)


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name`` (case and ``_``/``-`` insensitive); ConfigError if unknown."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in SPECS:
        raise ConfigError(f"unknown dataset {name!r}, expected one of: {', '.join(SPECS)}")
    return SPECS[key]
