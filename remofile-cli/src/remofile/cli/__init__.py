"""The remofile command line (``remofile`` and ``rmf``), built with click."""
