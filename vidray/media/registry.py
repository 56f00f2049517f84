"""Which decoders there are, and the one a run uses unless told."""

DECODERS = ("auto", "cpu", "nvdec")
DEFAULT_DECODER = "auto"
