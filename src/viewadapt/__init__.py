"""viewadapt: cross-entropy adversarial view adaptation for person re-identification."""

__version__ = "0.1.0"
