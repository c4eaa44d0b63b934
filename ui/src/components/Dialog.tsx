import type { FormEvent, ReactNode } from "react";

/** A modal form: closes on a click outside it and on Escape; its title names it. */
export function Dialog({
  label,
  title,
  onSubmit,
  onClose,
  children,
}: {
  label: string;
  title: ReactNode;
  onSubmit: (e: FormEvent) => void;
  onClose: () => void;
  children: ReactNode;
}) {
  return (
    <div className="modal-back" onClick={onClose}>
      <form
        className="modal card"
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
