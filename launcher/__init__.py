"""What assembles the parts: the ``lockers`` command, the demo, the simulator and a kiosk run
with its screen. It sits above every part (DESIGN.md) and nothing imports it."""
