"""What one source partition holds: pure, no I/O.

The prediction/label join, the per-partition state with its checkpoint snapshot, the
in-memory store of join slots with its changelog record encoding, and the event-time
alignment of a partition's two topics. The worker moves the bytes these produce to and from
Kafka; nothing here imports a Kafka client.
"""
