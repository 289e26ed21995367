"""ECO-M2F (arXiv 2404.15244) on mmseg's Mask2Former: the encoder exits early, per image."""
from typing import Optional, Sequence

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList
from torch import Tensor

from ..eco_m2f_steps import EcoM2FStepsMixin


@MODELS.register_module()
class EcoM2FSegmentor(EcoM2FStepsMixin, EncoderDecoder):
    """mmseg's ``EncoderDecoder`` with a ``Mask2FormerHead`` and ECO-M2F's steps.

    The steps are :class:`EcoM2FStepsMixin`'s, the same as mmdet's ``EcoM2F``. The decode
    head's pixel decoder must be ``mmdet.EfficientMSDeformAttnPixelDecoder`` (its encoder runs
    the exits; give it a ``gate`` for Step C and gated inference). Each prediction records the
    layers it ran in ``metainfo['exit_layers']``. Quality-table keys are the image file names
    without extension (mmseg datasets have no ``img_id``).

    Args:
        exits, exit_probs, exit_loss_weights, train_mode, quality_table, beta,
            quality_table_check: ECO-M2F's settings, see :meth:`EcoM2FStepsMixin.init_eco_m2f`.
        *args, **kwargs: Arguments of mmseg's :class:`EncoderDecoder`.
    """

    # What mmseg's EncoderDecoder reads from test_cfg (whole or sliding-window inference).
    HOST_TEST_CFG_KEYS = ('mode', 'crop_size', 'stride')

    @property
    def pixel_decoder(self) -> torch.nn.Module:
        """The decode head's pixel decoder."""
        if not hasattr(self.decode_head, 'pixel_decoder'):
            raise ValueError(f'EcoM2FSegmentor needs a Mask2Former decode head, got '
                             f"{type(self.decode_head).__name__}; set decode_head.type="
                             "'Mask2FormerHead'.")
        return self.decode_head.pixel_decoder

    def predict(self, inputs: Tensor, data_samples: OptSampleList = None) -> SampleList:
        """Predict with the forced, ``test_cfg.exit_layers``' or the gate's exits.

        Returns:
            list[:obj:`SegDataSample`]: As ``EncoderDecoder``'s, plus
            ``metainfo['exit_layers']``.
        """
        samples = data_samples if self.test_cfg.get('mode', 'whole') == 'whole' else None
        with self.exit_setting(inputs, samples, self.inference_exit()):
            results = super().predict(inputs, data_samples)
        self.record_exits(results)
        return results

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None):
        """Network forward without post-processing, with the same exits as :meth:`predict`.

        Unlike ``EncoderDecoder._forward``, it hands the data samples to the Mask2Former head,
        which needs them (their shapes) for its attention masks.
        """
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=inputs.shape[2:],
                                                        pad_shape=inputs.shape[2:]))
                            for _ in range(inputs.shape[0])]
        with self.exit_setting(inputs, data_samples, self.inference_exit()):
            return self.decode_head(self.extract_feat(inputs), data_samples)

    def predict_at_exits(self,
                         inputs: Tensor,
                         data_sample,
                         exits: Optional[Sequence[int]] = None) -> SampleList:
        """Predict one image at several exits, running the backbone once (Step B).

        Args:
            inputs (Tensor): One preprocessed image, shape (1, 3, H, W).
            data_sample (:obj:`SegDataSample`): Its data sample.
            exits (Sequence[int], optional): Exits to run. Defaults to ``self.exits``.

        Returns:
            list[:obj:`SegDataSample`]: One prediction per exit, in ``exits`` order.
        """
        exits, feats, samples = self.copies_per_exit(inputs, data_sample, exits)
        with self.exit_encoder.exit_setting(forced_exit=exits):
            seg_logits = self.decode_head.predict(feats, [s.metainfo for s in samples],
                                                  self.test_cfg)
        results = self.postprocess_result(seg_logits, samples)
        self.record_exits(results)
        return results
