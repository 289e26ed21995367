from .eco_m2f_segmentor import EcoM2FSegmentor

__all__ = ['EcoM2FSegmentor']
