/* Private interface between the parts of the simulated device. */
#ifndef UPD_SIMINT_H
#define UPD_SIMINT_H

#include "sim.h"

uint32_t upd__sim_rand(upd_sim_dev *dev);
/* Drop sector s's page (it reads as erased afterwards). */
void upd__sim_drop(upd_sim_dev *dev, uint32_t s);
/* Counted, cuttable flash operations of the current phase (dev->phase). 0 or -1. */
int upd__sim_erase(upd_sim_dev *dev, uint32_t addr);
int upd__sim_write(upd_sim_dev *dev, uint32_t addr, const void *buf, uint32_t len);
/* The power goes: flash off, RTC memory lost, the cut counted for dev->phase. */
void upd__sim_power_off(upd_sim_dev *dev);
void upd__sim_flash_ops(upd_sim_dev *dev, upd_flash_ops *ops);
/* Put len bytes at addr (sector aligned) as private pages, rest of the last sector
 * 0xFF; not counted, never cut. 0 or -1. */
int upd__sim_load(upd_sim_dev *dev, uint32_t addr, const uint8_t *data, uint32_t len);

#endif
