"""devb-nvme: the user-space NVMe driver of the seed.

Reading order (ixy-style, one sitting): :mod:`.regs` (BAR0 and bounded
waits), :mod:`.queues` (SQ/CQ rings, doorbells, phase tags),
:mod:`.controller` (bring-up as NVMe 1.4 §7.6.1 lists it, Identify, I/O
queues, reads and writes with PRP lists), :mod:`.blockdev` (the resource
manager: ``/dev/nvme<c>n<nsid>`` and one region per GPT partition),
:mod:`.main` (phases A-D for every controller, in bus order).
"""
