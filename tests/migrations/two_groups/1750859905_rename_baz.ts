// The first group again, followed by a final migration and one after it.
export * from "../first_group/1750859905_rename_baz.ts";
