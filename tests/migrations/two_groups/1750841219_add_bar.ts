// The first group again, followed by a final migration and one after it.
export * from "../first_group/1750841219_add_bar.ts";
