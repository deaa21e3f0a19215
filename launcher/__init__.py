"""What assembles the parts: the rush model, the planner and (soon) the demo and simulator."""
