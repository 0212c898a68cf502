"""barenet.data: IDX files, MNIST/Fashion-MNIST with checksums, any folder of IDX files
(``folder.py``), each described by a ``DatasetSpec``; mini-batches and transforms."""
from .datasets import Dataset, dataset_info, download_dataset, load_dataset
from .idx import read_idx, write_idx
from .loader import DataLoader, random_split
from .specs import DATASET_NAMES
from .transforms import Normalize

__all__ = ["DATASET_NAMES", "Dataset", "DataLoader", "Normalize", "dataset_info",
           "download_dataset", "load_dataset", "random_split", "read_idx", "write_idx"]
