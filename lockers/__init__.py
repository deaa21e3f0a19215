"""Phone lockers for a phone-free school day.

The ``lockers`` package is the shared kernel that both sides of the wire import: the MQTT
contract (:mod:`lockers.wire`), the injectable clock, the broker configuration generator and
the ``lockers`` command line. The parts themselves live in ``firmware_py``,
``locker_controller``, ``kiosk_ui`` and ``server``.
"""

__version__ = "0.1.0"
