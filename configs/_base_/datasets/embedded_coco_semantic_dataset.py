# The embedded 16-image COCO set (data/embedded_coco) as 133-class semantic segmentation, written
# once as fragments: configs merge them with `_base_.embedded_coco_semantic_dataset` (mmengine
# forbids the dataloaders in two `_base_` files, and mmseg's Mask2Former configs bring their own,
# so a Mask2Former on this data cannot list ./embedded_coco_semantic.py among its bases).
#   embedded_coco_semantic_dataset  type, root, folders: what ./embedded_coco_semantic.py uses
#   embedded_coco_semantic_256x256  train / test pipelines of the CPU-sized models of the
#                                   README's main job (Segmenter ViT-T and Mask2Former R18-lite)
# semantic/*.png are derived from the panoptic labels (label = mmdet's contiguous panoptic class,
# 255 = unlabeled). One split: train = val = test.
embedded_coco_semantic_dataset = dict(
    type='CocoPanopticSemanticDataset',
    # {{fileDirname}}: independent of the working directory, also inside mmeffseg/.mim.
    data_root='{{fileDirname}}/../../../data/embedded_coco/',
    data_prefix=dict(img_path='images', seg_map_path='semantic'))

# The images (375-640 px a side) are rescaled to fit 512 px (long side) x 256 px (short side);
# training takes 256x256 crops of 0.75x-1.5x rescales, the test the whole rescaled image.
embedded_coco_semantic_256x256 = dict(
    train_pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomResize', scale=(512, 256), ratio_range=(0.75, 1.5), keep_ratio=True),
        dict(type='RandomCrop', crop_size=(256, 256), cat_max_ratio=0.75),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs')
    ],
    test_pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='Resize', scale=(512, 256), keep_ratio=True),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ])
