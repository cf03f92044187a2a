"""Ground-truth lab: real Linux TCP between network namespaces through an impairing relay.

The relay logs its decision for every packet, so each data segment in a capture gets a
true label (`new`, `reordered`, `retransmission`, `spurious_retransmission`). See docs/lab.md.
"""

CLIENT_IP = "192.168.2.2"
SERVER_IPS = ("203.0.113.10", "198.51.100.20")
