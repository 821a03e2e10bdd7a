// What a provider reports for each file it lists. Shared by providers/ (which produce it) and the
// pure logic in core/ (which decides what to do with it).
export interface SourceEntry {
  /** Stable id of the file at the provider (a key, a path, a drive file id, a row key). */
  sourceObjectId: string;
  /** Path relative to the sync's source_path, with `/` separators. */
  path: string;
  /** Base name. */
  name: string;
  size: number;
  /** ISO 8601. */
  modifiedAt: string;
  /** etag / generation / revision / mtime+size: changes whenever the content changes. */
  version: string;
  contentType?: string;
  /** Provider checksum, `algo:hex` (e.g. `md5:…`), when the provider gives one. */
  checksum?: string;
  /** User metadata, tags, drive properties or row columns. */
  metadata: Record<string, unknown>;
  /**
   * Listed without what the listing itself does not carry (contentType, metadata, checksum): only
   * from a lazy listing (ListOptions.details `lazy`); StorageProvider.complete fills such an entry in
   * before anything but its comparison with what is stored (id, version, size, time) reads it.
   */
  partial?: true;
}
