package streams.bench;

/**
 * An order-independent digest of a set of records, the twin of {@code benches/src/digest.rs} (both
 * must change together): the record count and the wrapping sum of each record's 64-bit FNV-1a
 * hash, so two systems' outputs can be compared without keeping them.
 *
 * <p>A record's hash: FNV-1a 64 over the key's length as a 4-byte big-endian signed int (-1 for
 * null), the key's bytes, then the same for the value. Timestamps and headers are not part of it.
 * Printed as {@code "<count>:<sum as unsigned decimal>"}.
 */
final class Digest {
    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x00000100000001b3L;

    /** digest.rs's pinned value: {@code record_hash("key-00001", "VALUE")}. */
    static final String PINNED_HASH = "12265468564023119905";

    private long count;
    private long sum;

    private static long fnv(long hash, byte[] bytes) {
        for (byte b : bytes) {
            hash ^= b & 0xff;
            hash *= FNV_PRIME;
        }
        return hash;
    }

    private static long field(long hash, byte[] bytes) {
        int length = bytes == null ? -1 : bytes.length;
        hash = fnv(hash, new byte[] {
            (byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length});
        return bytes == null ? hash : fnv(hash, bytes);
    }

    /** The hash of one record (null key or value allowed). */
    static long recordHash(byte[] key, byte[] value) {
        return field(field(FNV_OFFSET, key), value);
    }

    void add(byte[] key, byte[] value) {
        count++;
        sum += recordHash(key, value);
    }

    long count() {
        return count;
    }

    @Override
    public String toString() {
        return count + ":" + Long.toUnsignedString(sum);
    }

    /** The {@code digest-check} case: this digest against digest.rs's pinned value; 0 when equal. */
    static int check() {
        byte[] key = "key-00001".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] value = "VALUE".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        String hash = Long.toUnsignedString(recordHash(key, value));
        Digest digest = new Digest();
        digest.add(key, value);
        boolean ok = hash.equals(PINNED_HASH) && digest.toString().equals("1:" + PINNED_HASH);
        System.out.println(new Json()
                .put("case", "digest-check")
                .put("ok", ok)
                .put("record_hash", hash)
                .put("expected", PINNED_HASH)
                .put("digest", digest.toString()));
        return ok ? 0 : 1;
    }
}
