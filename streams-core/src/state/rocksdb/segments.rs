//! [`Segments`]: the database of a window or session store, one column family per segment of
//! time, plus the store's observed stream time; what the two segmented stores share (segment
//! bookkeeping, the expiry rule, how a batch of puts is applied, their [`StateStore`] impl).
//!
//! [`StateStore`]: crate::state::StateStore

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DEFAULT_COLUMN_FAMILY_NAME, FlushOptions, WriteBatch, WriteOptions,
};

use super::{Db, RocksDbMemory, create_dir, scan, storage_error, write_options};
use crate::state::encoding::DecodeError;
use crate::state::{StoreError, StoreResult};

/// The prefix of the name of a segment's column family: `segment-<id>`.
const SEGMENT_PREFIX: &str = "segment-";

/// The key, in the default column family, of observed stream time (8 bytes, big-endian).
const OBSERVED_STREAM_TIME_KEY: &[u8] = b"observed-stream-time";

/// The key, in the default column family, of the segment interval the store was created with.
const SEGMENT_INTERVAL_KEY: &[u8] = b"segment-interval";

/// The segments of a window store (by window start) or session store (by session end).
///
/// A segment `id` holds the times `[id × interval, (id + 1) × interval)` in the column family
/// `segment-<id>`. Times are never negative here: a store drops negative times as expired before
/// they reach its segments. Observed stream time is kept in the default column family, written in
/// the batch that advances it ([`write`](Self::write)), and recovered on open; so is the segment
/// interval, checked on open.
pub(super) struct Segments {
    store: String,
    memory: RocksDbMemory,
    interval: i64,
    retention: i64,
    /// `None` once closed.
    db: Option<Db>,
    /// The ids of the segments that exist.
    ids: BTreeSet<i64>,
    /// The largest time put so far; -1 before the first put.
    observed: i64,
    write_options: WriteOptions,
}

fn segment_name(id: i64) -> String {
    format!("{SEGMENT_PREFIX}{id}")
}

impl Segments {
    /// Opens (creating if missing) the database of the store `store` in `dir`, with its existing
    /// segments and observed stream time, and drops the segments that have expired.
    pub(super) fn open(
        store: &str,
        dir: &Path,
        memory: &RocksDbMemory,
        retention: i64,
        interval: i64,
    ) -> StoreResult<Self> {
        if interval <= 0 {
            return Err(StoreError::invalid_argument(
                store,
                format!("the segment interval ({interval} ms) must be positive"),
            ));
        }
        create_dir(store, dir)?;
        let mut options = memory.options(store);
        // Without a write-ahead log, only an atomic flush keeps the column families (segments and
        // observed stream time) consistent with each other on disk.
        options.set_atomic_flush(true);
        let existing = if dir.join("CURRENT").exists() {
            Db::list_cf(&options, dir).map_err(|e| storage_error(store, e))?
        } else {
            Vec::new()
        };
        let mut ids = BTreeSet::new();
        for name in existing.iter().filter(|name| *name != DEFAULT_COLUMN_FAMILY_NAME) {
            let id = name
                .strip_prefix(SEGMENT_PREFIX)
                .and_then(|id| id.parse::<i64>().ok())
                .ok_or_else(|| corrupt(store, format!("unexpected column family {name:?}")))?;
            ids.insert(id);
        }
        let descriptors = std::iter::once(DEFAULT_COLUMN_FAMILY_NAME.to_string())
            .chain(ids.iter().map(|id| segment_name(*id)))
            .map(|name| ColumnFamilyDescriptor::new(name, memory.options(store)));
        let db = Db::open_cf_descriptors(&options, dir, descriptors).map_err(|e| storage_error(store, e))?;
        match read_i64(store, &db, SEGMENT_INTERVAL_KEY)? {
            Some(created_with) if created_with != interval => {
                return Err(StoreError::invalid_argument(
                    store,
                    format!("the store was created with segments of {created_with} ms, not {interval} ms"),
                ));
            }
            Some(_) => {}
            None => db
                .put_opt(SEGMENT_INTERVAL_KEY, interval.to_be_bytes(), &write_options())
                .map_err(|e| storage_error(store, e))?,
        }
        let observed = read_i64(store, &db, OBSERVED_STREAM_TIME_KEY)?.unwrap_or(-1);
        let mut segments = Segments {
            store: store.to_string(),
            memory: memory.clone(),
            interval,
            retention,
            db: Some(db),
            ids,
            observed,
            write_options: write_options(),
        };
        segments.drop_expired()?;
        Ok(segments)
    }

    pub(super) fn db(&self) -> StoreResult<&Db> {
        self.db.as_ref().ok_or_else(|| StoreError::closed(&self.store))
    }

    /// Fails with [`StoreError::Closed`] once closed.
    pub(super) fn check_open(&self) -> StoreResult<()> {
        self.db().map(|_| ())
    }

    /// The segment interval in ms.
    pub(super) fn interval(&self) -> i64 {
        self.interval
    }

    /// The largest time put so far; -1 before the first put.
    pub(super) fn observed(&self) -> i64 {
        self.observed
    }

    /// The earliest time that has not expired when stream time is `observed`:
    /// `observed - retention + 1`, and never below 0.
    pub(super) fn min_live_at(&self, observed: i64) -> i64 {
        observed.saturating_sub(self.retention).saturating_add(1).max(0)
    }

    /// The earliest time that has not expired now.
    pub(super) fn min_live(&self) -> i64 {
        self.min_live_at(self.observed)
    }

    /// The segment of the (non-negative) time `time`.
    pub(super) fn segment_id(&self, time: i64) -> i64 {
        time.max(0) / self.interval
    }

    /// The ids of the existing segments, ascending.
    pub(super) fn ids(&self) -> Vec<i64> {
        self.ids.iter().copied().collect()
    }

    /// The ids of the existing segments that can hold times in `[from, to]`, ascending.
    pub(super) fn ids_between(&self, from: i64, to: i64) -> Vec<i64> {
        if from > to || to < 0 {
            return Vec::new();
        }
        self.ids
            .range(self.segment_id(from)..=self.segment_id(to))
            .copied()
            .collect()
    }

    /// The column family of the segment `id`, if it exists.
    pub(super) fn cf(&self, id: i64) -> StoreResult<Option<&ColumnFamily>> {
        if !self.ids.contains(&id) {
            return Ok(None);
        }
        let cf = self.db()?.cf_handle(&segment_name(id));
        cf.map(Some)
            .ok_or_else(|| corrupt(&self.store, format!("the column family of segment {id} is missing")))
    }

    /// Creates the segment `id` if it does not exist.
    pub(super) fn create(&mut self, id: i64) -> StoreResult<()> {
        if self.ids.contains(&id) {
            return Ok(());
        }
        let options = self.memory.options(&self.store);
        let db = self.db.as_mut().ok_or_else(|| StoreError::closed(&self.store))?;
        db.create_cf(segment_name(id), &options)
            .map_err(|e| storage_error(&self.store, e))?;
        self.ids.insert(id);
        Ok(())
    }

    /// Drops, whole, every segment whose time range has expired: those entirely `<= observed -
    /// retention`, i.e. below the segment of the earliest live time.
    fn drop_expired(&mut self) -> StoreResult<()> {
        let min_live_id = self.segment_id(self.min_live());
        while let Some(&id) = self.ids.first().filter(|id| **id < min_live_id) {
            let db = self.db.as_mut().ok_or_else(|| StoreError::closed(&self.store))?;
            db.drop_cf(&segment_name(id))
                .map_err(|e| storage_error(&self.store, e))?;
            self.ids.remove(&id);
            tracing::debug!(store = %self.store, segment = id, "dropped an expired segment");
        }
        Ok(())
    }

    /// Adds to `batch` a put of the stored key `key` with `value` in the segment of `time`,
    /// creating the segment if it does not exist.
    pub(super) fn batch_put(&mut self, batch: &mut WriteBatch, time: i64, key: &[u8], value: &[u8]) -> StoreResult<()> {
        let id = self.segment_id(time);
        self.create(id)?;
        let cf = self.cf(id)?.expect("the segment was just created");
        batch.put_cf(cf, key, value);
        Ok(())
    }

    /// Adds to `batch` a delete of the stored key `key` in the segment of `time`, when that
    /// segment exists (when it does not, there is nothing to delete).
    pub(super) fn batch_delete(&self, batch: &mut WriteBatch, time: i64, key: &[u8]) -> StoreResult<()> {
        if let Some(cf) = self.cf(self.segment_id(time))? {
            batch.delete_cf(cf, key);
        }
        Ok(())
    }

    /// Stages `records`, each at its time (a window start or a session end), as puts applied one
    /// by one would change the store: observed stream time advances to each record's time; a
    /// record that has expired at the stream time observed up to and including it is dropped and
    /// counted in [`Staged::expired`]; a record that a later one expires is dropped uncounted (it
    /// would never be read again). `write` adds each remaining record to the batch, in order (see
    /// [`batch_put`](Self::batch_put), [`batch_delete`](Self::batch_delete)). Nothing is written
    /// until [`commit`](Self::commit).
    pub(super) fn stage<R>(
        &mut self,
        records: impl IntoIterator<Item = (i64, R)>,
        mut write: impl FnMut(&mut Self, &mut WriteBatch, i64, R) -> StoreResult<()>,
    ) -> StoreResult<Staged> {
        let mut observed = self.observed;
        let mut expired = 0;
        let mut live = Vec::new();
        for (time, record) in records {
            observed = observed.max(time);
            if time < self.min_live_at(observed) {
                expired += 1;
            } else {
                live.push((time, record));
            }
        }
        let min_live = self.min_live_at(observed);
        let mut batch = WriteBatch::default();
        for (time, record) in live.into_iter().filter(|(time, _)| *time >= min_live) {
            write(self, &mut batch, time, record)?;
        }
        Ok(Staged {
            batch,
            observed,
            expired,
        })
    }

    /// Writes what [`stage`](Self::stage) planned (see [`write`](Self::write)) and returns how
    /// many records it dropped because they had expired.
    pub(super) fn commit(&mut self, staged: Staged) -> StoreResult<u64> {
        self.write(staged.batch, staged.observed)?;
        Ok(staged.expired)
    }

    /// Writes `batch` (with observed stream time, when `observed` advances it), then drops the
    /// segments that have expired.
    pub(super) fn write(&mut self, mut batch: WriteBatch, observed: i64) -> StoreResult<()> {
        let advanced = observed > self.observed;
        if advanced {
            batch.put(OBSERVED_STREAM_TIME_KEY, observed.to_be_bytes());
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.db()?
            .write_opt(batch, &self.write_options)
            .map_err(|e| storage_error(&self.store, e))?;
        if advanced {
            self.observed = observed;
            self.drop_expired()?;
        }
        Ok(())
    }

    /// The value of `key` in the segment `id`; `None` when either is absent.
    pub(super) fn get(&self, id: i64, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        let Some(cf) = self.cf(id)? else {
            return Ok(None);
        };
        self.db()?.get_cf(cf, key).map_err(|e| storage_error(&self.store, e))
    }

    /// The value of `key` in the default column family (the store's metadata).
    pub(super) fn metadata(&self, key: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.db()?.get(key).map_err(|e| storage_error(&self.store, e))
    }

    /// Calls `visit` on the entries of the segment `id` with keys in `[lower, upper]` (inclusive;
    /// `None` is open), ascending, or descending when `reverse`, until `visit` returns `false`.
    pub(super) fn scan(
        &self,
        id: i64,
        lower: Option<Vec<u8>>,
        upper: Option<&[u8]>,
        reverse: bool,
        visit: impl FnMut(&[u8], &[u8]) -> StoreResult<bool>,
    ) -> StoreResult<()> {
        let Some(cf) = self.cf(id)? else {
            return Ok(());
        };
        scan(
            &self.store,
            self.db()?,
            Some(cf),
            lower,
            upper.map(super::inclusive_end),
            reverse,
            visit,
        )
    }

    /// Flushes the memtables of every column family to SST files, atomically.
    pub(super) fn flush(&self) -> StoreResult<()> {
        let db = self.db()?;
        let mut cfs: Vec<&ColumnFamily> = Vec::with_capacity(self.ids.len() + 1);
        for name in
            std::iter::once(DEFAULT_COLUMN_FAMILY_NAME.to_string()).chain(self.ids.iter().map(|id| segment_name(*id)))
        {
            cfs.push(
                db.cf_handle(&name)
                    .ok_or_else(|| corrupt(&self.store, format!("the column family {name} is missing")))?,
            );
        }
        db.flush_cfs_opt(&cfs, &FlushOptions::default())
            .map_err(|e| storage_error(&self.store, e))
    }

    /// Flushes, then releases the database. Closing twice is not an error.
    pub(super) fn close(&mut self) -> StoreResult<()> {
        if self.db.is_none() {
            return Ok(());
        }
        let flushed = self.flush();
        self.db = None;
        flushed
    }
}

/// Writes [`Segments::stage`] planned: the batch, the observed stream time it leaves, and how many
/// records it dropped because they had expired.
pub(super) struct Staged {
    batch: WriteBatch,
    observed: i64,
    /// The records dropped because they had expired.
    pub(super) expired: u64,
}

/// Decodes every record of a restore `batch` of the store `store` with `decode` (a stored key and
/// value to the time and record [`Segments::stage`] takes), failing with `StoreError::Corrupt` at
/// the first key that does not decode.
pub(super) fn decode_batch<'b, R>(
    store: &str,
    batch: &'b [(Vec<u8>, Option<Vec<u8>>)],
    decode: impl Fn(&'b [u8], Option<&'b [u8]>) -> Result<(i64, R), DecodeError>,
) -> StoreResult<Vec<(i64, R)>> {
    batch
        .iter()
        .map(|(stored, value)| decode(stored, value.as_deref()).map_err(|e| e.in_store(store)))
        .collect()
}

/// Implements what the segmented stores have alike, for `$store` with `name: String`, `dir:
/// PathBuf` and `segments: Segments` fields whose segments hold `$times` (a window's start, a
/// session's end): the accessors of its segments and directory, and
/// [`StateStore`](crate::state::StateStore) (flushing and closing are the segments'). As
/// `state_store!` of [`logging`](crate::state::logging), it names `StateStore` and `StoreResult`
/// as the module that invokes it imports them.
macro_rules! segmented_store {
    ($store:ident, $time:literal, $times:literal) => {
        impl $store {
            #[doc = concat!("The length (ms of ", $time, ") of a segment.")]
            pub fn segment_interval_ms(&self) -> i64 {
                self.segments.interval()
            }

            #[doc = concat!("The ids of the segments that exist (segment `id` holds the ", $times, " `[id × interval,")]
            #[doc = "(id + 1) × interval)`), ascending."]
            pub fn segment_ids(&self) -> Vec<i64> {
                self.segments.ids()
            }

            #[doc = concat!("The largest ", $time, " put so far (restored on open); -1 before the first put.")]
            pub fn observed_stream_time(&self) -> i64 {
                self.segments.observed()
            }

            /// The directory of the store's files.
            pub fn dir(&self) -> &std::path::Path {
                &self.dir
            }
        }

        impl StateStore for $store {
            fn name(&self) -> &str {
                &self.name
            }

            /// Flushes the memtables of every segment (and the metadata) to SST files, atomically:
            /// the writes so far are durable once this returns.
            fn flush(&mut self) -> StoreResult<()> {
                self.segments.flush()
            }

            /// Flushes, then releases the database (its files stay).
            fn close(&mut self) -> StoreResult<()> {
                self.segments.close()
            }

            fn as_any(&self) -> &dyn std::any::Any {
                self
            }

            fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }
    };
}
pub(super) use segmented_store;

/// The 8-byte big-endian number stored under `key` in the default column family, if any.
fn read_i64(store: &str, db: &Db, key: &[u8]) -> StoreResult<Option<i64>> {
    let Some(bytes) = db.get(key).map_err(|e| storage_error(store, e))? else {
        return Ok(None);
    };
    let bytes: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
        let key = String::from_utf8_lossy(key);
        corrupt(store, format!("{key} of {} bytes instead of 8", bytes.len()))
    })?;
    Ok(Some(i64::from_be_bytes(bytes)))
}

fn corrupt(store: &str, reason: String) -> StoreError {
    StoreError::Corrupt {
        store: store.to_string(),
        reason,
    }
}

impl fmt::Debug for Segments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segments")
            .field("interval", &self.interval)
            .field("retention", &self.retention)
            .field("ids", &self.ids)
            .field("observed", &self.observed)
            .field("open", &self.db.is_some())
            .finish()
    }
}
