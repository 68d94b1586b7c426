/* Start code, exception vectors and the semihosting call of the lx106 test images.
 * CALL0 ABI: arguments in a2..a7, return value in a2, return address in a0, sp is a1.
 * See docs/lx106.md. */

/* PS after start: INTLEVEL 0 (so debug exceptions, level 2, are taken: break and
 * __builtin_trap report instead of being ignored), EXCM 0, UM 1 (user vector). */
#define UPD_PS_RUN 0x20

/* Identifies the vector to upd_lx106_fault() (tests/lx106/runtime.c). */
#define VEC_USER   0
#define VEC_KERNEL 1
#define VEC_DEBUG  2
#define VEC_DOUBLE 3
#define VEC_NMI    4

/* ---- Vectors, placed at VECBASE by lx106.ld. Offsets of the lx106 configuration;
 * each only jumps to its handler, which needs no register of the faulting code. ---- */
        .section .upd_vectors, "ax"
        .global __upd_vectors
        .align 4
__upd_vectors:
        .org    0x10                    /* debug exception / level-2 interrupt */
        j       .Lfault_debug
        .org    0x20                    /* NMI (level 3) */
        j       .Lfault_nmi
        .org    0x30                    /* kernel exception (PS.UM = 0) */
        j       .Lfault_kernel
        .org    0x50                    /* user exception (PS.UM = 1): the usual one */
        j       .Lfault_user
        .org    0x70                    /* double exception (fault with PS.EXCM = 1) */
        j       .Lfault_double
        .org    0x80

/* ---- Fault stubs: collect (vector, cause, pc, vaddr, sp, ps) in a2..a7, switch to
 * the fault handler's own stack (the test's stack may be what overflowed) and call
 * upd_lx106_fault(), which prints and exits. ---- */
        .section .text.upd_fault, "ax"
        .align 4
.Lfault_user:
        mov     a6, a1
        movi    a2, VEC_USER
        rsr     a3, exccause
        rsr     a4, epc1
        rsr     a5, excvaddr
        rsr     a7, ps
        j       .Lfault_common
.Lfault_kernel:
        mov     a6, a1
        movi    a2, VEC_KERNEL
        rsr     a3, exccause
        rsr     a4, epc1
        rsr     a5, excvaddr
        rsr     a7, ps
        j       .Lfault_common
.Lfault_double:
        mov     a6, a1
        movi    a2, VEC_DOUBLE
        rsr     a3, exccause
        rsr     a4, depc
        rsr     a5, excvaddr
        rsr     a7, ps
        j       .Lfault_common
.Lfault_debug:
        mov     a6, a1
        movi    a2, VEC_DEBUG
        rsr     a3, debugcause
        rsr     a4, epc2
        movi    a5, 0
        rsr     a7, eps2
        j       .Lfault_common
.Lfault_nmi:
        mov     a6, a1
        movi    a2, VEC_NMI
        movi    a3, 0
        rsr     a4, epc3
        movi    a5, 0
        rsr     a7, eps3
.Lfault_common:
        movi    a1, __upd_exc_stack_top
        movi    a0, upd_lx106_fault
        callx0  a0
1:      j       1b

/* ---- Reset entry (the ELF entry; QEMU's loader device jumps here). ---- */
        .section .text.upd_start, "ax"
        .global _start
        .type   _start, @function
        .align 4
_start:
        movi    a1, __upd_stack_top     /* stack: top of the 4 KB at the bottom of DRAM */
        movi    a2, __upd_vecbase
        wsr     a2, vecbase
        movi    a2, 0
        wsr     a2, intenable           /* no interrupts */
        movi    a2, UPD_PS_RUN
        wsr     a2, ps
        rsync
        movi    a0, 0                   /* end of the call chain for debuggers */
        movi    a2, upd_lx106_cstart    /* clears .bss, runs main(), exits */
        callx0  a2
1:      j       1b
        .size   _start, . - _start

/* int upd_lx106_simcall(int nr, int a, int b, int c): QEMU semihosting. Call number
 * in a2, arguments in a3..a5, result in a2 (errno in a3, ignored). */
        .section .text.upd_lx106_simcall, "ax"
        .global upd_lx106_simcall
        .type   upd_lx106_simcall, @function
        .align 4
upd_lx106_simcall:
        simcall
        ret
        .size   upd_lx106_simcall, . - upd_lx106_simcall
