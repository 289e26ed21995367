"""ECO-M2F's three steps, written once for every Mask2Former host (mmdet and mmseg).

:class:`EcoM2FStepsMixin` holds what ECO-M2F (arXiv 2404.15244) adds to a Mask2Former model:
Step A exit sampling and loss weighting, Step C gate training on the Step-B labels, and the
exit used at inference (forced, ``test_cfg.exit_layers`` or the gate), recorded in each
prediction's ``metainfo['exit_layers']``. The exit itself is run by the pixel decoder's
:class:`ScheduledDeformableEncoder`; this mixin only tells it what to do around each forward
(:meth:`ScheduledDeformableEncoder.exit_setting`).

A host (``EcoM2F`` for mmdet, ``EcoM2FSegmentor`` for mmseg) lists the mixin first among its
bases and provides :attr:`pixel_decoder`; the mixin's ``__init__`` takes ECO-M2F's arguments
(:meth:`init_eco_m2f`) and hands the rest to the host's base class.
"""
import contextlib
import copy
import difflib
import os.path as osp
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Union

import torch
from mmengine import dist
from torch import Tensor

from mmeffseg.models.encoders import ScheduledDeformableEncoder
from mmeffseg.models.gates import ExitQualityTable, check_exit_range, check_exits

TRAIN_MODES = ('parent', 'gate')
ECO_M2F_ARGS = ('exits', 'exit_probs', 'exit_loss_weights', 'train_mode', 'quality_table', 'beta',
                'quality_table_check')
ExitArg = Union[int, Sequence[int], Tensor]
#: ECO-M2F's own ``test_cfg`` keys; a host adds its base class's (``HOST_TEST_CFG_KEYS``).
EXIT_TEST_CFG_KEYS = ('exit_layers', )


def pop_eco_m2f_args(kwargs: dict) -> dict:
    """Remove ECO-M2F's arguments (:meth:`EcoM2FStepsMixin.init_eco_m2f`) from a host's
    keyword arguments and return them, so the rest can go to the host's base class."""
    return {key: kwargs.pop(key) for key in ECO_M2F_ARGS if key in kwargs}


def image_id_of(info: dict) -> Union[int, str]:
    """The key of an image in a quality table: ``img_id`` (COCO-style datasets) or, for
    datasets without one (mmseg's), the file name of ``img_path`` without its extension."""
    if 'img_id' in info:
        return info['img_id']
    if 'img_path' in info:
        return osp.splitext(osp.basename(info['img_path']))[0]
    raise ValueError("ECO-M2F keys per-image quality by 'img_id' or 'img_path'; the sample "
                     "has neither (keep them in the pipeline's meta_keys).")


def valid_ratios_from_samples(batch_inputs: Tensor, data_samples: Sequence) -> Tensor:
    """Each image's unpadded (width, height) fraction of the batch input, (B, 2).

    Both mmdet's and mmseg's data preprocessors pad at the bottom and right and leave the
    unpadded size in ``metainfo['img_shape']``.
    """
    height, width = batch_inputs.shape[-2:]
    ratios = []
    for ds in data_samples:
        h, w = ds.metainfo.get('img_shape', (height, width))[:2]
        ratios.append((min(w / width, 1.0), min(h / height, 1.0)))
    return batch_inputs.new_tensor(ratios, dtype=torch.float32)


class EcoM2FStepsMixin:
    """ECO-M2F's steps for a Mask2Former host; see the module docstring.

    The mixin's :meth:`loss` replaces the host's (calling it in Step A); the host's ``predict``
    runs inside :meth:`exit_setting` and calls :meth:`record_exits`.

    Three uses:

    * ``train_mode='parent'`` (Step A, "weighted stochastic depth"): every iteration samples one
      exit ``k`` from ``exits`` (with ``exit_probs``; the same ``k`` on every rank), runs only
      encoder layers ``1..k`` and multiplies every loss by ``alpha_k``. Everything trains.
    * ``train_mode='gate'`` (Step C): only the gate trains (all other parameters are frozen and
      kept in eval mode), with cross-entropy on the labels ``argmax_k(q_k - beta * k)`` of the
      Step-B ``quality_table``. Only the backbone and the encoder's input projection run.
    * inference: ``test_cfg.exit_layers = k`` forces ``k`` layers for every image (``k`` = all
      layers is Mask2Former); ``exit_layers=None`` lets the gate choose per image (all layers
      without a gate). ``with model.forced_exits(k_or_list):`` overrides both.
    """

    #: The ``test_cfg`` keys the host's base class reads; any other key (but the exit keys)
    #: is refused, so a misspelt setting cannot be ignored silently.
    HOST_TEST_CFG_KEYS: tuple = ()

    # ------------------------------------------------------------------ host interface
    @property
    def pixel_decoder(self) -> torch.nn.Module:
        """The host's Mask2Former pixel decoder."""
        raise NotImplementedError

    def image_id(self, data_sample) -> Union[int, str]:
        """Quality-table key of a sample's image."""
        return image_id_of(data_sample.metainfo)

    # ------------------------------------------------------------------ set-up
    def __init__(self, *args, **kwargs) -> None:
        eco_m2f_args = pop_eco_m2f_args(kwargs)
        super().__init__(*args, **kwargs)
        self.init_eco_m2f(**eco_m2f_args)

    def init_eco_m2f(self,
                     exits: Sequence[int] = (2, 3, 4, 5, 6),
                     exit_probs: Optional[Sequence[float]] = None,
                     exit_loss_weights: Union[str, Sequence[float]] = 'linear',
                     train_mode: str = 'parent',
                     quality_table: Optional[str] = None,
                     beta: float = 0.0,
                     quality_table_check: bool = True) -> None:
        """Check and store ECO-M2F's settings (the host's ``__init__`` arguments).

        Args:
            exits (Sequence[int]): Exits (encoder layer counts) sampled in Step A and chosen by
                the gate. Defaults to (2, 3, 4, 5, 6). Must equal the gate's ``exits``.
            exit_probs (Sequence[float], optional): Sampling weights of ``exits`` in Step A
                (normalised). None (default) = uniform.
            exit_loss_weights (str | Sequence[float]): ``alpha_k``: ``'linear'`` (default,
                ``alpha_k = k``, the released recipe), ``'none'`` (1 for every exit) or one
                weight per exit.
            train_mode (str): ``'parent'`` (default) or ``'gate'``.
            quality_table (str, optional): Step-B table (JSON); required for
                ``train_mode='gate'``.
            beta (float): Price of one encoder layer in quality units for the gate labels.
                Defaults to 0.
            quality_table_check (bool): Before Step C trains, compare the dataset and the
                parent checkpoint the table records with ``train_dataloader`` and
                ``load_from`` (:meth:`ExitQualityTable.check_source`, run by
                ``ExitGateLabelHook``) and refuse a mismatch. False skips it (data or
                checkpoint only moved). Defaults to True.
        """
        owner = type(self).__name__
        encoder = getattr(self.pixel_decoder, 'encoder', None)
        if not isinstance(encoder, ScheduledDeformableEncoder):
            raise ValueError(
                f'{owner} needs a pixel decoder with a ScheduledDeformableEncoder, got '
                f'{type(self.pixel_decoder).__name__}; set the pixel decoder type to '
                "'EfficientMSDeformAttnPixelDecoder' ('mmdet.EfficientMSDeformAttnPixelDecoder'"
                ' in an mmseg config).')
        self.exits = check_exits(exits, owner)
        self.num_encoder_layers = len(encoder.layers)
        check_exit_range(self.exits, self.num_encoder_layers, owner)
        self.exit_probs = self._check_probs(exit_probs)
        self.exit_loss_weights = self._check_loss_weights(exit_loss_weights)
        if train_mode not in TRAIN_MODES:
            raise ValueError(f'{owner}: train_mode={train_mode!r}; use one of {TRAIN_MODES}.')
        self.train_mode = train_mode
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f'{owner}: beta={beta!r} must be a number >= 0 (quality given up '
                             f'per extra encoder layer).')
        self.beta = float(beta)
        self.quality_table_path = quality_table
        if not isinstance(quality_table_check, bool):
            raise ValueError(f'{owner}: quality_table_check={quality_table_check!r} must be True '
                             f'or False.')
        self.quality_table_check = quality_table_check
        self._quality_table: Optional[ExitQualityTable] = None
        gate = self.gate
        if gate is not None and tuple(gate.exits) != self.exits:
            raise ValueError(f'{owner}: the gate has exits {list(gate.exits)} but the model '
                             f'{list(self.exits)}; give both the same exits.')
        if train_mode == 'gate':
            if gate is None:
                raise ValueError(f"{owner}: train_mode='gate' needs a gate; set the pixel "
                                 "decoder's gate=dict(type='TokenMeanExitGate', exits=...).")
            if quality_table is None:
                raise ValueError(f"{owner}: train_mode='gate' needs model.quality_table, the "
                                 'JSON file written by tools/ecom2f/build_quality_table.py.')
            # Step C trains the gate alone; frozen parameters get no gradient and no update.
            self.requires_grad_(False)
            gate.requires_grad_(True)
        self._check_test_cfg_keys()
        self._check_test_exit(self._test_exit_cfg())
        self._exit_override: Optional[ExitArg] = None

    @property
    def exit_encoder(self) -> ScheduledDeformableEncoder:
        """The encoder that runs the exits."""
        return self.pixel_decoder.encoder

    @property
    def gate(self) -> Optional[torch.nn.Module]:
        """The encoder's gate (None when it has none)."""
        return self.exit_encoder.gate

    @property
    def quality_table(self) -> ExitQualityTable:
        """The Step-B table, loaded and validated on first use."""
        if self._quality_table is None:
            if self.quality_table_path is None:
                raise ValueError(f'{type(self).__name__}: no quality_table configured; set '
                                 'model.quality_table.')
            self._quality_table = ExitQualityTable(self.quality_table_path, self.exits)
        return self._quality_table

    def _check_probs(self, probs: Optional[Sequence[float]]) -> Tensor:
        if probs is None:
            return torch.full((len(self.exits), ), 1.0 / len(self.exits))
        p = torch.as_tensor(list(probs), dtype=torch.float64)
        if p.shape != (len(self.exits), ) or bool((p < 0).any()) or float(p.sum()) <= 0 or \
                not bool(torch.isfinite(p).all()):
            raise ValueError(f'{type(self).__name__}: exit_probs={list(probs)} must hold one '
                             f'non-negative weight per exit {list(self.exits)} with a positive '
                             'sum.')
        return (p / p.sum()).float()

    def _check_loss_weights(self, weights: Union[str, Sequence[float], None]) -> List[float]:
        if weights is None or weights == 'none':
            return [1.0] * len(self.exits)
        if weights == 'linear':
            return [float(k) for k in self.exits]
        if isinstance(weights, str) or len(weights) != len(self.exits) or \
                any(not isinstance(w, (int, float)) or w < 0 for w in weights):
            raise ValueError(f"{type(self).__name__}: exit_loss_weights={weights!r}; use "
                             f"'linear' (alpha_k = k), 'none' or one non-negative weight per "
                             f'exit {list(self.exits)}.')
        return [float(w) for w in weights]

    def _test_exit_cfg(self) -> Optional[int]:
        return self.test_cfg.get('exit_layers', None) if self.test_cfg else None

    def _check_test_cfg_keys(self) -> None:
        known = tuple(self.HOST_TEST_CFG_KEYS) + EXIT_TEST_CFG_KEYS
        for key in (self.test_cfg or {}):
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f'did you mean {close[0]!r}? ' if close else ''
                raise ValueError(f'{type(self).__name__}: unknown test_cfg key {key!r}; {hint}'
                                 f'known keys: {sorted(known)}.')

    def _check_test_exit(self, k: Optional[int]) -> None:
        if k is None:
            return
        if isinstance(k, bool) or not isinstance(k, int) or \
                not 1 <= k <= self.num_encoder_layers:
            raise ValueError(f'{type(self).__name__}: test_cfg.exit_layers={k!r} must be None '
                             f'(the gate decides) or an int in 1..{self.num_encoder_layers}.')

    def train(self, mode: bool = True):
        """Set train/eval mode; in gate training only the gate leaves eval mode."""
        super().train(mode)
        if self.train_mode == 'gate' and mode:
            # Frozen BN / dropout must behave as at inference while the gate learns.
            super().train(False)
            self.gate.train(True)
            self.training = True
        return self

    # ------------------------------------------------------------------ exits
    @contextlib.contextmanager
    def forced_exits(self, exits: ExitArg) -> Iterator[None]:
        """Within the block, predict with the given exit(s), overriding gate and test_cfg.

        Args:
            exits (int | Sequence[int] | Tensor): One layer count for all images, or one per
                image of the batch.
        """
        if not isinstance(exits, int):
            exits = torch.as_tensor(exits, dtype=torch.long)
        prev, self._exit_override = self._exit_override, exits
        try:
            yield
        finally:
            self._exit_override = prev

    def inference_exit(self) -> Optional[ExitArg]:
        """forced_exits() > test_cfg.exit_layers > None (the gate, or all layers)."""
        if self._exit_override is not None:
            return self._exit_override
        exit_ = self._test_exit_cfg()
        self._check_test_exit(exit_)
        return exit_

    def exit_setting(self, batch_inputs: Tensor, data_samples: Optional[Sequence],
                     forced_exit: Optional[ExitArg]):
        """The encoder's exit setting for one batch (forced exit, images' valid extents)."""
        ratios = None
        if data_samples is not None and len(data_samples) == batch_inputs.shape[0]:
            ratios = valid_ratios_from_samples(batch_inputs, data_samples)
        return self.exit_encoder.exit_setting(forced_exit=forced_exit, valid_ratios=ratios)

    def sample_exit(self) -> int:
        """Draw Step A's exit for this iteration; every rank gets rank 0's draw."""
        idx = torch.multinomial(self.exit_probs, 1)
        if dist.is_distributed() and dist.get_world_size() > 1:
            # Ranks must run the same layers, or DDP's gradient reduction waits forever.
            dist.broadcast(idx, src=0)
        return self.exits[int(idx)]

    def copies_per_exit(self, batch_inputs: Tensor, data_sample,
                        exits: Optional[Sequence[int]] = None) -> tuple:
        """Step B's input: one image's backbone features and data sample, once per exit.

        The pixel decoder then runs the copies as one batch with per-image exits, so each
        encoder layer runs only on the copies that reach it and the backbone runs once.

        Returns:
            tuple: ``exits`` (list, ``self.exits`` by default), the repeated features and the
            copied data samples.
        """
        if batch_inputs.shape[0] != 1:
            raise ValueError(f'predict_at_exits takes one image, got a batch of '
                             f'{batch_inputs.shape[0]}.')
        exits = list(self.exits if exits is None else exits)
        feats = [f.repeat(len(exits), 1, 1, 1) for f in self.extract_feat(batch_inputs)]
        return exits, feats, [copy.deepcopy(data_sample) for _ in exits]

    def record_exits(self, results: Sequence) -> None:
        """Write the layers each image ran into its ``metainfo['exit_layers']``."""
        ran = self.exit_encoder.last_exits
        if ran is not None and ran.numel() != len(results):
            ran = None  # e.g. sliding-window inference: several encoder passes per image
        for i, ds in enumerate(results):
            k = self.num_encoder_layers if ran is None else int(ran[i])
            ds.set_metainfo(dict(exit_layers=k))

    # ------------------------------------------------------------------ training steps
    def loss(self, batch_inputs: Tensor, data_samples: Sequence) -> Dict[str, Tensor]:
        """Step A (parent) or Step C (gate) losses, by ``train_mode``."""
        if self.train_mode == 'gate':
            return self.gate_loss(batch_inputs, data_samples)
        return self.parent_loss(batch_inputs, data_samples, super().loss)

    def parent_loss(self, batch_inputs: Tensor, data_samples: Sequence,
                    host_loss: Callable[[Tensor, Sequence], Dict[str, Tensor]]
                    ) -> Dict[str, Tensor]:
        """Step A: the host's losses at a sampled exit ``k``, scaled by ``alpha_k``."""
        k = self.sample_exit()
        with self.exit_setting(batch_inputs, data_samples, k):
            losses = host_loss(batch_inputs, data_samples)
        alpha = self.exit_loss_weights[self.exits.index(k)]
        # Only the summed entries ('loss' in the key) are weighted; the rest are logged.
        losses = {name: (value * alpha if 'loss' in name else value)
                  for name, value in losses.items()}
        ref = next(iter(losses.values()))
        losses['exit_layers'] = ref.new_tensor(float(k))
        return losses

    def gate_loss(self, batch_inputs: Tensor, data_samples: Sequence) -> Dict[str, Tensor]:
        """Step C: cross-entropy of the gate on the Step-B labels."""
        img_ids = [self.image_id(ds) for ds in data_samples]
        labels = self.quality_table.labels(img_ids, self.beta).to(batch_inputs.device)
        with torch.no_grad():
            inputs = self.pixel_decoder.encoder_inputs(self.extract_feat(batch_inputs))
        logits = self.exit_encoder.gate_logits(
            inputs['query'], inputs['spatial_shapes'],
            valid_ratios=valid_ratios_from_samples(batch_inputs, data_samples))
        acc = (logits.argmax(dim=1) == labels).float().mean()
        return dict(loss_gate=self.gate.loss(logits, labels), gate_acc=acc.detach())
