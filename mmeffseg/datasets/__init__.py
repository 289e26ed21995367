"""Datasets of mmeffseg (registered in mmseg's DATASETS) and the data-path check."""
from .camvid import CamVidDataset
from .coco_panoptic_semantic import CocoPanopticSemanticDataset
from .data_roots import check_data_roots, missing_path_message
from .empty_dataset import explain_empty_dataset
from .folder_seg_dataset import FolderSegDataset
from .transforms import ResetOriginalShape

__all__ = [
    'CamVidDataset', 'CocoPanopticSemanticDataset', 'FolderSegDataset', 'check_data_roots',
    'missing_path_message', 'ResetOriginalShape', 'explain_empty_dataset'
]
