# Sums callgrind dumps (one file per thread: --separate-threads=yes) for instr.sh.
#   awk -v n=CHECKS -f cgsum.awk FILE...
# Each file (thread) gets a role: "writer" (updraft's device-record writer: writer_main),
# "request" (a thread that answers requests: updraft's libmicrohttpd handler or its download
# senders, or nginx),
# else "background". Prints, per check (divided by n):
#   role ROLE INSTRUCTIONS          for each role
#   obj OBJECT INSTRUCTIONS         self instructions of request threads by executable/library
#   fn INSTRUCTIONS NAME (OBJECT)   self instructions of request threads by function
#   wfn INSTRUCTIONS NAME (OBJECT)  the same for the writer thread
# Names and objects are compressed in the format ("fn=(12) name" once, then "fn=(12)").
function nm(s, arr,   id) {
    if (match(s, /^\([0-9]+\) /)) { id = substr(s, 1, RLENGTH - 1); arr[id] = substr(s, RLENGTH + 1); return arr[id] }
    if (s ~ /^\([0-9]+\)$/) return arr[s]
    return s
}
function short(o) { sub(/.*\//, "", o); sub(/\.so.*/, "", o); return o }
function flush(   k) {
    if (file == "") return
    role = "background"
    if (has_writer) role = "writer"
    else if (has_handler) role = "request"
    roles[role] += ftot
    if (role == "request") {
        for (k in fobj) obj[k] += fobj[k]
        for (k in ffn) fns_tot[k] += ffn[k]
    }
    if (role == "writer")
        for (k in ffn) wfns_tot[k] += ffn[k]
    delete fobj; delete ffn; delete obs; delete fnames
    ftot = 0; has_writer = 0; has_handler = 0
}
FNR == 1 { flush(); file = FILENAME }
/^ob=/ { ob = short(nm(substr($0, 4), obs)); next }
/^cob=/ { nm(substr($0, 5), obs); next }
/^fn=/ {
    fn = nm(substr($0, 4), fnames); skip = 0
    if (fn == "writer_main") has_writer = 1
    # updraft's sender threads (filesend.c: filesend_run) send download bodies: request work too
    if (fn == "handler" || fn == "filesend_run" || fn ~ /^ngx_http_/) has_handler = 1
    next
}
/^cfn=/ { nm(substr($0, 5), fnames); next }
/^calls=/ { skip = 1; next }
/^[0-9+-]/ {
    if (skip) { skip = 0; next }
    ftot += $2; fobj[ob] += $2; ffn[fn " (" ob ")"] += $2
    next
}
END {
    flush()
    for (r in roles) printf "role %s %.0f\n", r, roles[r] / n
    for (o in obj) printf "obj %s %.0f\n", o, obj[o] / n
    for (f in fns_tot) printf "fn %.0f %s\n", fns_tot[f] / n, f
    for (f in wfns_tot) printf "wfn %.0f %s\n", wfns_tot[f] / n, f
}
