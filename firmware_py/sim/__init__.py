"""Sim twins of the hardware: a virtual card for vsmartcard's vpcd reader, an isolated pcscd,
and a world that plays doors and presence sensors on gpiozero's mock pins."""
