"""Every benchmark, one after the other: `python -m benchmarks` (about 18 minutes).

The deploy and load benchmarks use the `stackyard` namespace images (`stackyard build` first)
and destroy any deployment on this engine.
"""

from benchmarks import build, deploy, load, planning

for name, module in (("build", build), ("deploy", deploy), ("load", load), ("planning", planning)):
    print(f"== {name}")
    module.main()
