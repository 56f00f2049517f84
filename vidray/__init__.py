"""vidray: public video instruction datasets to training-ready Parquet, on Ray Data."""

__version__ = "0.1.0"
