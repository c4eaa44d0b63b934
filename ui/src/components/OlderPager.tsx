/** The "Older →" button under a list read page by page (an infinite query); `label` for a
 * list in another order (by name: "More →"). */
export function OlderPager({
  pages,
  label = "Older →",
}: {
  pages: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => Promise<unknown> };
  label?: string;
}) {
  return (
    <div className="pager">
      {pages.hasNextPage && (
        <button onClick={() => void pages.fetchNextPage()} disabled={pages.isFetchingNextPage}>
          {label}
        </button>
      )}
    </div>
  );
}
