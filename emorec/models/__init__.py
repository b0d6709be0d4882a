"""Neural models: ResNet trunks with statistics pooling."""
from .pooling import AvgPooling, StatsPooling, make_pooling  # noqa: F401
from .resnet import DEPTHS, ResNetClassifier, build_model, count_parameters  # noqa: F401
