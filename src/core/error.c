#include "updraft/error.h"

const char *upd_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define UPD__ERR_MSG(name, value, msg)                                                             \
    case value:                                                                                    \
        return msg;
        UPD_ERRNO_MAP(UPD__ERR_MSG)
#undef UPD__ERR_MSG
    default:
        return "unknown error";
    }
}

const char *upd_err_name(int err)
{
    switch (err) {
    case 0:
        return "UPD_OK";
#define UPD__ERR_NAME(name, value, msg)                                                            \
    case value:                                                                                    \
        return "UPD_" #name;
        UPD_ERRNO_MAP(UPD__ERR_NAME)
#undef UPD__ERR_NAME
    default:
        return "UPD_UNKNOWN";
    }
}
