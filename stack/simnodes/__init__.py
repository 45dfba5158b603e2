"""Simulated nodes for the local stack, in the manner of KWOK: Node objects kept alive with
heartbeats, and an agent that plays the kubelet for the pods the real scheduler binds to them,
through the API alone (no containers run).

- `convention`: what a simulated container does, chosen by image name or annotation.
- `lifecycle`: a pod's status as a pure function of its plan and the time since it was bound.
- `nodes`: the Node objects, their Leases and Ready heartbeats.
- `pods`: the watch on bound pods, timed status writes, deletion with the grace period.
- `__main__`: the agent process the stack starts (`python -m stack.simnodes`).
"""
