"""Every benchmark, one after the other: `python -m benchmarks` (about 15 minutes).

The deploy benchmark uses the `stackyard` namespace images (`stackyard build` first) and
destroys any deployment on this engine.
"""

from benchmarks import build, deploy, planning

for name, module in (("build", build), ("deploy", deploy), ("planning", planning)):
    print(f"== {name}")
    module.main()
