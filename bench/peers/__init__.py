"""Reference servers the control-plane benchmark compares ours with (``bench/control_plane.py``)."""
