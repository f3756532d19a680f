"""Object layout for PyPy's JIT: no component keeps more than a few dozen
attributes in its instance dictionary.

PyPy stores an object's attributes as fixed fields (a "map") only while it has
fewer than 80 of them; past that the object falls back to a dictionary and every
attribute access becomes a hash lookup.  The CPU crossed that line once (83
attributes) and its loop ran 4-5 times slower on PyPy with nothing else changed:
`machine bench` fell from 74 to 18 MIPS.  The CPU now declares its state as
slots; this test catches the next object that grows past the limit."""

from pcmachine.bench import DEMO_MARKER
from pcmachine.plugins.cpu.cpu import CPU
from pcmachine.runner import demo_image

#: PyPy's limit is 80 (`LIMIT_MAP_ATTRIBUTES`); the margin leaves room to grow.
MOST_ATTRIBUTES = 60


def instance_attributes(obj) -> int:
    return len(getattr(obj, "__dict__", {}))


def test_components_stay_under_pypys_attribute_limit(pc):
    # The demo disk takes the CPU through real mode, protected mode and paging,
    # so the attributes set on the way (TLBs, paged accessors) exist.
    running = pc.boot(fda=demo_image(), ready=DEMO_MARKER)
    machine = running.machine
    objects = dict(machine.components, machine=machine, bus=machine.bus, clock=machine.clock,
                   fpu=machine.cpu.fpu)
    crowded = {name: instance_attributes(obj) for name, obj in objects.items()
               if instance_attributes(obj) > MOST_ATTRIBUTES}
    assert crowded == {}, "objects near PyPy's attribute limit (80): %s" % crowded


def test_cpu_state_lives_in_slots(pc):
    running = pc.boot(fda=demo_image(), ready=DEMO_MARKER)
    cpu = running.machine.cpu
    assert isinstance(cpu, CPU)
    in_dictionary = set(vars(cpu))
    assert not in_dictionary & set(CPU.__slots__)
    # What remains in the dictionary is what the Component base class sets.
    assert in_dictionary <= {"machine", "name", "options", "bus", "clock"}, in_dictionary
