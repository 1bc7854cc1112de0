"""Views: matplotlib only. Built once on given Axes, then ``update(result)`` mutates the artists."""

from explorer.plots.chain import DeltaView, JacobianView

__all__ = ["DeltaView", "JacobianView"]
