"""ECO-M2F (arXiv 2404.15244) on mmdet's Mask2Former: the encoder exits early, per image."""
from typing import Optional, Sequence

import torch
from mmdet.models.detectors import Mask2Former
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from torch import Tensor

from ..eco_m2f_steps import EcoM2FStepsMixin


@MODELS.register_module()
class EcoM2F(EcoM2FStepsMixin, Mask2Former):
    """mmdet's Mask2Former with ECO-M2F's steps (see :class:`EcoM2FStepsMixin`).

    The pixel decoder must be an ``EfficientMSDeformAttnPixelDecoder`` (its encoder runs the
    exits; give it a ``gate`` for Step C and gated inference). Each prediction records the
    layers it ran in ``metainfo['exit_layers']``.

    Args:
        exits, exit_probs, exit_loss_weights, train_mode, quality_table, beta,
            quality_table_check: ECO-M2F's settings, see :meth:`EcoM2FStepsMixin.init_eco_m2f`.
        *args, **kwargs: Arguments of :class:`mmdet.models.Mask2Former`.
    """

    # What mmdet's MaskFormerFusionHead reads from test_cfg.
    HOST_TEST_CFG_KEYS = ('panoptic_on', 'semantic_on', 'instance_on', 'max_per_image',
                          'iou_thr', 'filter_low_score', 'object_mask_thr')

    @property
    def pixel_decoder(self) -> torch.nn.Module:
        """The panoptic head's pixel decoder."""
        return self.panoptic_head.pixel_decoder

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Predict with the forced, ``test_cfg.exit_layers``' or the gate's exits.

        Returns:
            list[:obj:`DetDataSample`]: As Mask2Former's, plus ``metainfo['exit_layers']``.
        """
        with self.exit_setting(batch_inputs, batch_data_samples, self.inference_exit()):
            results = super().predict(batch_inputs, batch_data_samples, rescale=rescale)
        self.record_exits(results)
        return results

    def _forward(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> tuple:
        """Network forward without post-processing, with the same exits as :meth:`predict`."""
        with self.exit_setting(batch_inputs, batch_data_samples, self.inference_exit()):
            return super()._forward(batch_inputs, batch_data_samples)

    def predict_at_exits(self,
                         batch_inputs: Tensor,
                         data_sample,
                         exits: Optional[Sequence[int]] = None,
                         rescale: bool = True) -> SampleList:
        """Predict one image at several exits, running the backbone once (Step B).

        The backbone features are repeated once per exit and the pixel decoder runs the
        copies as one batch with per-image exits, so each layer runs only on the copies that
        reach it.

        Args:
            batch_inputs (Tensor): One preprocessed image, shape (1, 3, H, W).
            data_sample (:obj:`DetDataSample`): Its data sample.
            exits (Sequence[int], optional): Exits to run. Defaults to ``self.exits``.
            rescale (bool): Rescale the results to the original image. Defaults to True.

        Returns:
            list[:obj:`DetDataSample`]: One prediction per exit, in ``exits`` order.
        """
        exits, feats, samples = self.copies_per_exit(batch_inputs, data_sample, exits)
        with self.exit_encoder.exit_setting(forced_exit=exits):
            mask_cls, mask_pred = self.panoptic_head.predict(feats, samples)
        results_list = self.panoptic_fusion_head.predict(
            mask_cls, mask_pred, samples, rescale=rescale)
        results = self.add_pred_to_datasample(samples, results_list)
        self.record_exits(results)
        return results
