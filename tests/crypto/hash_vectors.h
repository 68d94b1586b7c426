/* Made by tests/crypto/hash_vectors.py (hashlib); do not edit. The MD5 and SHA-256
 * of the first n bytes of msg[i] = (i * 37 + 11) mod 256. */
#define HV_MSG_LEN 300
static const struct {
    unsigned n;
    const char *md5, *sha256;
} hash_vectors[] = {
    {1, "13c8ffd977013703a701cf8e11deac65",
     "e7cf46a078fed4fafd0b5e3aff144802b853f8ae459a4f0c14add3314b7cc3a6"},
    {55, "d872aa0473a24da995ce4ac518ade767",
     "2900465fcb533e05a158fd2b3be0e5e3b03740d83060aa3580e0d98a96bf2384"},
    {56, "e23567645846677c205de80f9779081b",
     "31454ff48ef36af2f08fd511bdc37d9d5855ac23e992e5ff5445cb6b7674a674"},
    {57, "1fe5e4a27e12484d7203d0b60c21c51f",
     "bcc0a5d3791b985b7550e04ca660a6c63a589ba1edd2283c8e110e5b515df124"},
    {63, "4775b66278a8fc132ff80923378216cd",
     "5f6401b96532c36de4e65beec0409b69b1d181864c8009b7a04f43e5d56350d1"},
    {64, "71e123b70c7aa64826fcfe472694cd1c",
     "94eb5de4943613fd048dc93393ab06877405faa39c11f53e9386083339833e7e"},
    {65, "5949948f26e35203661075214faa3966",
     "fc518669b6eb4b4dd91827ecacef86689c725bd5bab888fd3b26dbb196eec954"},
    {119, "87f72c7241c5fe218bb4df8c0aba3232",
     "b0dc41b1a384e2f1203f0351b38fbeaafceef577ce1191d5bfc25da39f721eae"},
    {120, "bf240b8b7407fba3805adeec63a03b77",
     "5df24dd802ac26132ce608dcb5f09841eef039ee0f152acf98d26d17fe4e88e6"},
    {128, "3e93b378458b77da96b2357c3bda8cc2",
     "0aedd4856f8eba0963627336ad5144a9a7dbe12498e6066f0165fc97d8ddee4c"},
    {300, "1cacd39d2680cccfccf8c3265c8d037e",
     "9b854f0a59eabeac0b0ecaee1f5cd7ab3bfbc93e9b33e2a89ac338b237f300f2"},
};
