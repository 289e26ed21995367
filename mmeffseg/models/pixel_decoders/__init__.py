from .efficient_pixel_decoder import EfficientMSDeformAttnPixelDecoder
from .light_pixel_embedding import LightPixelEmbedding

__all__ = ['EfficientMSDeformAttnPixelDecoder', 'LightPixelEmbedding']
