# Importing the subpackages registers every module they define.
from . import (backbones, detectors, encoders, gates, heads, necks,  # noqa: F401
               pixel_decoders, segmentors, token_reducers)
