// provided by cuda_emu.h (force-included)
