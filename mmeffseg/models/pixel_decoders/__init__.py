from .baseline_conversion import (baseline_layer_map, convert_baseline_to_proscale,
                                  new_module_prefixes)
from .efficient_pixel_decoder import EfficientMSDeformAttnPixelDecoder
from .light_pixel_embedding import LightPixelEmbedding

__all__ = [
    'EfficientMSDeformAttnPixelDecoder', 'LightPixelEmbedding', 'baseline_layer_map',
    'convert_baseline_to_proscale', 'new_module_prefixes'
]
