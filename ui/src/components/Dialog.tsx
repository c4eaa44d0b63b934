import type { FormEvent, ReactNode } from "react";

/** A modal form: closes on a click outside it and on Escape; its title names it. */
export function Dialog({
  label,
  title,
  onSubmit,
  onClose,
  children,
  wide = false,
}: {
  label: string;
  title: ReactNode;
  onSubmit: (e: FormEvent) => void;
  onClose: () => void;
  children: ReactNode;
  /** Room for a table (the start dialog's dry run). */
  wide?: boolean;
}) {
  return (
    <div className="modal-back" onClick={onClose}>
      <form
        className={wide ? "modal card wide" : "modal card"}
        onSubmit={onSubmit}
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => e.key === "Escape" && onClose()}
        role="dialog"
        aria-label={label}
      >
        <h3>{title}</h3>
        {children}
      </form>
    </div>
  );
}
