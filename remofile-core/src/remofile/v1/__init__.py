"""Generated protocol buffer code for the Remofile protocol, version 1 (do not edit)."""
