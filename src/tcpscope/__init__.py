"""tcpscope: TCP behaviour per flow and per app feature, from packet captures."""

__version__ = "0.1.0"
